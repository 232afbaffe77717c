#!/usr/bin/env bash
# Browser test of the game API's web remote and OBS overlay: headless Debian Chromium,
# driven over the DevTools protocol from the project's venv, against the headless relay
# with a simulated App. Needs scripts/browser-deps.sh and scripts/python-env.sh (test.sh
# runs both). About 15 s once built.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --locked --quiet --bin dglab-relay
BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/dglab-relay"
exec timeout 120 .venv/bin/python tests/browser/test_web.py "$BIN"
