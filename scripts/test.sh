#!/usr/bin/env bash
# Runs every test of DG-LAB Hub on a fresh machine, installing what the tests need (the
# desktop app's Debian packages and tauri-driver, the Python venv with PyDGLab-WS for the
# interop test). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "desktop dependencies (WebKitGTK, Xvfb, WebKitWebDriver, tauri-driver; quiet when present)"
bash scripts/desktop-deps.sh
# gamehub-web: Chromium for the browser test of the web remote and overlay.
bash scripts/browser-deps.sh

step "format"
cargo fmt --all --check

step "clippy, core and desktop shell (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "python venv for the interop tests (PyDGLab-WS, the official MCP SDK)"
if [ -f scripts/python-env.sh ]; then bash scripts/python-env.sh; fi

step "core tests (relay, terminals, protocol, waveforms, presets, safety)"
cargo test --locked

step "desktop shell tests (commands on Tauri's mock runtime, no display needed)"
cargo test --locked -p dglab-hub

step "UI modules (node --test)"
node --test tests/ui

step "browser: the game API's web remote and OBS overlay in headless Chromium, with a simulated phone App"
bash tests/browser/run.sh

step "end to end: the real window under Xvfb, driven by WebDriver, with a simulated phone App"
bash tests/e2e/run.sh

step "Debian package: build the .deb (release), install it with apt-get, validate its desktop entry, launch the installed app to the QR code, purge it"
bash tests/package/run.sh
