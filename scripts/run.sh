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
demo=(target/debug/signet-demo "$demo_dir" "$PWD/target/debug/kubectl-signet")
if busctl --user status org.freedesktop.secrets >/dev/null 2>&1; then
  exec "${demo[@]}"
fi
# No desktop keyring (a fresh server, an SSH session): give the demo a private, throw-away one so sign-in
# works. Other terminals reach it through the bus address the demo writes into .demo/env.sh.
echo "run: no Secret Service on this session; the demo uses a private, throw-away keyring" >&2
export SIGNET_DEMO_IN_SESSION=1
exec dbus-run-session -- sh -c 'printf demo | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$@"' sh "${demo[@]}"
