#!/usr/bin/env bash
# Runs Signet. Until the tray app lands, this starts a local demo: a Dex stand-in and a Kubernetes
# API-server stand-in on loopback, with a demo config and kubeconfig in ./.demo (never your own files),
# and `kubectl-signet` built and ready. Sets itself up on a fresh Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --locked -p kubectl-signet -p signet-tests --bin kubectl-signet --bin signet-demo
demo_dir="$PWD/.demo"
mkdir -p "$demo_dir"
# With no desktop keyring (a fresh server, an SSH session), give the demo a private one so sign-in works.
if ! busctl --user status org.freedesktop.secrets >/dev/null 2>&1 && [ -z "${SIGNET_DEMO_IN_SESSION:-}" ]; then
  echo "run: no Secret Service on this session; the demo uses a private, throw-away keyring" >&2
  export SIGNET_DEMO_IN_SESSION=1
  exec dbus-run-session -- sh -c 'printf demo | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$0" "$@"' "$0" "$@"
fi
exec target/debug/signet-demo "$demo_dir" "$PWD/target/debug/kubectl-signet"
