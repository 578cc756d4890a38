#!/usr/bin/env bash
# Benchmarks of DESIGN.md §8 against other programs (not a test; nothing fails on a missed budget):
#   - `kubectl-signet token` with a fresh cached token (also over a config with 200 providers and 2,000
#     clusters) vs the floor (signet-floor: reads the cached-token file, prints the ExecCredential) and vs
#     `gke-gcloud-auth-plugin` serving its own cache;
#   - `kubectl get --raw /version` through Signet's exec entry vs a static token, and through an exec
#     entry running the floor (what any exec plugin costs kubectl);
#   - `kubectl-signet use` vs `kubectl config use-context` on a 2,000-context (~2 MB) kubeconfig;
#   - 100 concurrent kubectl with an expired token: the IdP's token requests (budget: exactly 1).
# Prints a Markdown table with medians, p10–p90, ratios and budgets. Everything runs in a temporary HOME
# with its own Dex stand-in, API-server stand-in and private keyring.
#
# Release builds: kubectl-signet is what is measured, and signet-bench serves the API-server stand-in
# in-process, so a debug build of its TLS would slow the kubectl baseline.
#
# kubectl: the gcloud SDK's `kubectl` on PATH is a dispatcher that runs the current context's exec plugin
# and asks the server for its version before every command (even `kubectl config view`), which would count
# the plugin twice. The benchmark uses the real binary next to it (kubectl.1.32) unless KUBECTL is set.
#
# Usage: scripts/bench.sh [--runs 200] [--kubectl-runs 200] [--use-runs 20] [--also-plugin PATH]…
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Two builds: built together, cargo would unify the features of the dependencies both use, and the
# kubectl-signet measured would not be the one scripts/package.sh ships (nor match hot-symbols.txt).
cargo build --release --locked -p kubectl-signet --bin kubectl-signet --bin signet-cli
cargo build --release --locked -p signet-tests --bins

if [ -z "${KUBECTL:-}" ]; then
  dispatcher=$(readlink -f "$(command -v kubectl)")
  KUBECTL=kubectl
  for v in 1.32 1.33 1.31; do
    if [ -x "$(dirname "$dispatcher")/kubectl.$v" ]; then KUBECTL="$(dirname "$dispatcher")/kubectl.$v"; break; fi
  done
fi
command -v gke-gcloud-auth-plugin >/dev/null || { echo "bench: gke-gcloud-auth-plugin is not on PATH" >&2; exit 1; }

exec target/release/signet-bench \
  --plugin target/release/kubectl-signet \
  --probe target/release/signet-probe \
  --kubectl "$KUBECTL" \
  "$@"
