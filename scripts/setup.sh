#!/usr/bin/env bash
# Installs what Signet's build and tests need on Debian 12 and is a no-op when everything is there.
# Used by scripts/test.sh, scripts/run.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the keyring, D-Bus and secret-tool for the real-keyring tests; keyutils (keyctl) for the
# headless kernel-keyring test; openssh-server (a real sshd on loopback) and openssh-client for the
# agent-forwarding test; Node.js for the Dex stand-in (the machine's Node 20 is used when present;
# Debian's nodejs otherwise); python3, whose ctypes lists and closes X windows in the tray app's
# end-to-end test.
packages=(gnome-keyring dbus dbus-x11 libsecret-tools keyutils openssh-server openssh-client systemd libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev xvfb webkit2gtk-driver python3)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
scripts/install-packages.sh setup "${packages[@]}"

command -v cargo >/dev/null 2>&1 || { echo "setup: Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }

# The Dex stand-in's npm packages, exactly as locked.
if [ ! -d tests/idp/node_modules ] || [ tests/idp/package-lock.json -nt tests/idp/node_modules/.package-lock.json ]; then
  echo "setup: npm ci (tests/idp)" >&2
  npm ci --prefix tests/idp --no-audit --no-fund --loglevel=error
fi

# The switcher window's front end (ui/): npm packages exactly as locked, then the build the tray app
# embeds at compile time (tauri.conf.json `frontendDist`), rebuilt when a source is newer than it.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: npm ci (ui)" >&2
  npm ci --prefix ui --no-audit --no-fund --loglevel=error
fi
if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/vite.config.ts ui/package.json -newer ui/dist/index.html -print -quit)" ]; then
  echo "setup: building the front end (ui/)" >&2
  npm run --prefix ui --silent build >/dev/null
fi

# tauri-driver (in front of WebKitWebDriver) for the webview end-to-end tests; any 2.x will do.
if ! cargo install --list | grep -q '^tauri-driver v2\.'; then
  echo "setup: cargo install tauri-driver --locked" >&2
  cargo install tauri-driver --locked --version '^2'
fi
