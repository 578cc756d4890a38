#!/usr/bin/env bash
# Runs every Signet test: unit tests, the engine against the Dex stand-in, the real keyring on a private
# D-Bus session, the API-server stand-in and the real kubectl. Sets itself up on a fresh Debian 12.
# Tests never touch your HOME, kubeconfig or keyring: each makes its own temporary ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo test --workspace --locked "$@"
