#!/usr/bin/env bash
# Runs every Signet test: the front end's tests, unit tests, the engine against the Dex stand-in, the real keyring on a private
# D-Bus session, the API-server stand-in and the real kubectl. Sets itself up on a fresh Debian 12.
# Tests never touch your HOME, kubeconfig or keyring: each makes its own temporary ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The front end's type check and unit/component/accessibility tests (Vitest), then every Rust test
# (which also regenerates ui/src/generated from the Rust DTOs).
npm run --prefix ui --silent check
npm test --prefix ui --silent
exec cargo test --workspace --locked "$@"
