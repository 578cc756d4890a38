#!/usr/bin/env bash
# Benchmarks of the tray app's budgets in DESIGN.md §8 (not a test; nothing fails on a missed budget):
#   - launch → StatusNotifierItem exported on the session bus (p90 ≤ 350 ms; also with GDK's GL probe
#     forced on, its cost), and → agent socket;
#   - idle with no window open: RssAnon after 60 s (≤ 28 MB) and VmRSS, then wake-ups per thread over
#     5 minutes (none beyond planned refresh/expiry times; nothing is planned there) — beside the
#     baseline build when BASELINE_APP (or --baseline-app) names one;
#   - sign-in, IdP form submitted → kubeconfig written (≤ 100 ms median after the first), through
#     tauri-driver.
# Prints a Markdown table with medians, p10–p90 and budgets, after the machine's CPU count and load.
# Everything runs in a temporary root with its own HOME, XDG_*, KUBECONFIG, D-Bus session, keyring,
# Xvfb, Dex stand-in and API-server stand-in; nothing touches yours.
#
# Release builds: the app is what is measured, and signet-tray-bench serves the API-server stand-in
# in-process.
#
# Usage: scripts/bench-tray.sh [--launch-runs 15] [--idle-secs 60] [--idle-runs 1] [--wake-secs 300]
#                              [--baseline-app PATH] [--sign-in-runs 8]
#                              [--parts launch,idle,sign-in] [--keep] [--app-env KEY=VALUE]...
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p signet -p kubectl-signet -p signet-tests --bins

echo "bench-tray: $(nproc) CPUs; $(uptime)" >&2
target/release/signet-tray-bench \
  --app target/release/signet \
  --plugin target/release/kubectl-signet \
  ${BASELINE_APP:+--baseline-app "$BASELINE_APP"} \
  "$@"
echo
echo "CPUs: $(nproc); at the end: $(uptime)"

# --- The switcher window and the tray menu with 1,000 clusters (signet-switcher-bench; README
# "Benchmarks" → "Switcher"): open → first paint, keystroke → list, memory back after close, menu build.
echo
echo "bench-tray: switcher; $(nproc) CPUs; $(uptime)" >&2
target/release/signet-switcher-bench --app target/release/signet
echo
echo "CPUs: $(nproc); at the end: $(uptime)"
