#!/usr/bin/env bash
# Runs Signet: the tray app when there is a display, else the CLI. With no Signet config yet it offers the
# demo: a Dex stand-in and a Kubernetes API-server stand-in on loopback, a demo config and a separate demo
# kubeconfig in ./.demo (never your own files). Sets itself up on a fresh Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --locked -p kubectl-signet -p signet-tests -p signet --bin kubectl-signet --bin signet-cli --bin signet-demo --bin signet

# No desktop keyring (a fresh server, an SSH session): use a private, throw-away one so sign-in works.
if [ -z "${SIGNET_RUN_IN_SESSION:-}" ] && ! busctl --user status org.freedesktop.secrets >/dev/null 2>&1; then
  echo "run: no Secret Service on this session; using a private, throw-away keyring" >&2
  export SIGNET_RUN_IN_SESSION=1 SIGNET_DEMO_IN_SESSION=1
  exec dbus-run-session -- sh -c 'printf demo | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$0"' "$0"
fi

has_display() { [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; }
user_config="${SIGNET_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/signet/config.toml}"
if [ -f "$user_config" ] && [ -z "${SIGNET_DEMO:-}" ]; then
  has_display && exec target/debug/signet
  echo "run: no display; use the CLI: target/debug/kubectl-signet status (or --help)" >&2
  exec target/debug/kubectl-signet status
fi

demo_dir="$PWD/.demo"
mkdir -p "$demo_dir"
demo=(target/debug/signet-demo "$demo_dir" "$PWD/target/debug/kubectl-signet")
if ! has_display; then
  exec "${demo[@]}"
fi
# With a display: the demo runs in the background and the tray app uses the demo's config and kubeconfig.
rm -f "$demo_dir/env.sh"
"${demo[@]}" </dev/null &
demo_pid=$!
trap 'kill $demo_pid 2>/dev/null' EXIT
for _ in $(seq 1 150); do [ -s "$demo_dir/env.sh" ] && break; sleep 0.2; done
[ -s "$demo_dir/env.sh" ] || { echo "run: the demo did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$demo_dir/env.sh"
echo "run: starting the tray app on the demo config; sign in from its window or its tray menu (alice / password)" >&2
target/debug/signet --open
