#!/usr/bin/env bash
# Installs what the desktop app needs to build, run headless and be tested end to end:
# the WebKitGTK build libraries, Xvfb for a window without a screen, WebKitWebDriver,
# Node.js and npm when missing (UI tests, Tauri's CLI), and
# tauri-driver (built into ./tools so nothing lands outside the project).
# Idempotent and quiet once everything is there, so scripts/test.sh can call it every run.
# `--no-driver` skips tauri-driver (only the E2E test needs it; scripts/run.sh passes it).
set -euo pipefail
cd "$(dirname "$0")/.."

# fonts-wqy-microhei: a small CJK font, so the Chinese UI and the built-in presets' Chinese
# names render (and show in the E2E screenshot) on machines that have no CJK font.
# xdotool: the E2E presses the global emergency-stop shortcut at the X server, outside
# the webview, as another program's key press would arrive.
# desktop-file-utils, libglib2.0-bin: the package test validates the installed desktop
# entry (desktop-file-validate) and launches the app from it (gio launch), as a menu does.
# dbus-daemon: dbus-run-session gives the E2E test a session bus, which the single-instance
# plugin needs to find the running window (Xvfb has none).
PKGS=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev librsvg2-dev
      xvfb xauth webkit2gtk-driver fonts-wqy-microhei xdotool
      desktop-file-utils libglib2.0-bin dbus-daemon)

missing=()
for p in "${PKGS[@]}"; do
  # `dpkg-query` is cheap; only a package that is not fully installed needs apt.
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

# Node.js and npm: `node --test tests/ui` and the Tauri CLI (`npx tauri build`, the package
# test). A fresh Debian 12 with only a Rust toolchain has neither; Debian's Node 18 works.
# Checked by command, not package, so a Node from elsewhere (nvm, NodeSource) is kept.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "desktop-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" != "--no-driver" ] && [ ! -x tools/bin/tauri-driver ]; then
  echo "desktop-deps: building tauri-driver into ./tools"
  cargo install tauri-driver --locked --quiet --root "$PWD/tools"
fi
