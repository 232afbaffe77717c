#!/usr/bin/env bash
# Builds and starts DG-LAB Hub on this machine. For now that is the headless relay with
# a built-in terminal: it prints the pairing QR code to scan with the DG-LAB App.
# Extra arguments go to `dglab-relay serve` (e.g. --port 9000, --public-url wss://…).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release --bin dglab-relay
exec ./target/release/dglab-relay serve --local-terminal "$@"
