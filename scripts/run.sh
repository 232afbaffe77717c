#!/usr/bin/env bash
# Builds and starts DG-LAB Hub. With a display: the desktop app (QR code, binding table,
# strength, waveforms). Without one (a server, SSH, a Raspberry Pi without a screen): the
# headless relay with a built-in terminal, which prints the pairing QR code in the terminal,
# because a window needs a display to open.
# Extra arguments go to `dglab-relay serve` in headless mode (e.g. --port 9000,
# --public-url wss://…). Set DGLAB_HEADLESS=1 to force headless mode.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DGLAB_HEADLESS:-}" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  bash scripts/desktop-deps.sh --no-driver
  cargo build --locked --release -p dglab-hub
  exec ./target/release/dglab-hub
fi

echo "run.sh: no display (DISPLAY/WAYLAND_DISPLAY unset), so starting the headless relay with a built-in terminal instead of the window." >&2
cargo build --locked --release --bin dglab-relay
exec ./target/release/dglab-relay serve --local-terminal "$@"
