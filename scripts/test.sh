#!/usr/bin/env bash
# Runs every test of DG-LAB Hub on a fresh machine, installing what the tests need
# (the Python venv with PyDGLab-WS for the interop test). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "clippy (warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

step "python venv for the PyDGLab-WS interop test"
if [ -f scripts/python-env.sh ]; then bash scripts/python-env.sh; fi

step "core tests (relay, terminals, protocol, waveforms, presets, safety)"
cargo test --locked
