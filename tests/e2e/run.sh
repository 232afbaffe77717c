#!/usr/bin/env bash
# End-to-end test of the desktop app in a real window: builds the app, starts tauri-driver
# (which starts WebKitWebDriver and the app), runs tests/e2e/test_app.py against it, and
# stops only what it started. Without a display it re-runs itself under Xvfb.
# Needs scripts/desktop-deps.sh to have run (scripts/test.sh does that).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1600x1200x24" "$0" "$@"
fi
# The single-instance plugin finds the running app on the D-Bus session bus (a desktop
# session always has one; Xvfb does not): give the test its own.
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-run-session >/dev/null; then
  exec dbus-run-session -- "$0" "$@"
fi

cargo build --locked --quiet -p dglab-hub
APP="${CARGO_TARGET_DIR:-$PWD/target}/debug/dglab-hub"
DRIVER_BIN="$PWD/tools/bin/tauri-driver"
[ -x "$DRIVER_BIN" ] || { echo "e2e: $DRIVER_BIN missing; run scripts/desktop-deps.sh" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WD_PORT="${WD_PORT:-$(free_port)}"
NATIVE_PORT="${NATIVE_PORT:-$(free_port)}"

# The app keeps presets, settings and logs under XDG folders: point them at a scratch home
# so the test never reads or changes the user's own, and a restart inside the test sees
# exactly what the test saved.
E2E_HOME="$(mktemp -d)"
export XDG_DATA_HOME="$E2E_HOME/data" XDG_CONFIG_HOME="$E2E_HOME/config" XDG_CACHE_HOME="$E2E_HOME/cache"
mkdir -p target/e2e
DRIVER_LOG="$PWD/target/e2e/tauri-driver.log"

# One tauri-driver per scenario: a scenario that ends with the app gone under a signal (the
# SIGTERM step) can leave its WebDriver session behind, and WebKitWebDriver serves one
# session at a time.
DRIVER_PID=""
start_driver() {
  "$DRIVER_BIN" --port "$WD_PORT" --native-port "$NATIVE_PORT" >>"$DRIVER_LOG" 2>&1 &
  DRIVER_PID=$!
  for _ in $(seq 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $WD_PORT), 0.2)" 2>/dev/null; then break; fi
    sleep 0.1
  done
}
stop_driver() {
  [ -n "$DRIVER_PID" ] || return 0
  # Children first (WebKitWebDriver, and the app if a session was left open), by parent id.
  pkill -TERM -P "$DRIVER_PID" 2>/dev/null || true
  kill "$DRIVER_PID" 2>/dev/null || true
  wait "$DRIVER_PID" 2>/dev/null || true
  DRIVER_PID=""
}
cleanup() {
  stop_driver
  # The app may still be flushing its shader cache as it exits: retry once, never fail on it.
  rm -rf "$E2E_HOME" 2>/dev/null || { sleep 1; rm -rf "$E2E_HOME" 2>/dev/null || true; }
}
trap cleanup EXIT

# E2E_TESTS picks the scenarios (default: all, in this order: the window's reuses the app's
# folders; the doctor's, for the phone test, the doctor and the inspector, needs nothing before it).
status=0
for t in ${E2E_TESTS:-app window virtual doctor games v4}; do
  start_driver
  case "$t" in
    app) python3 tests/e2e/test_app.py --webdriver "127.0.0.1:$WD_PORT" --app "$APP" \
           --screenshot docs/screenshot.png --log-dir "$XDG_DATA_HOME" || status=1 ;;
    window) python3 tests/e2e/test_window.py --webdriver "127.0.0.1:$WD_PORT" --app "$APP" \
           --config-home "$XDG_CONFIG_HOME" --data-home "$XDG_DATA_HOME" --docs docs || status=1 ;;
    doctor) python3 tests/e2e/test_doctor.py --webdriver "127.0.0.1:$WD_PORT" --app "$APP" --docs docs || status=1 ;;
    # "Try without a phone" (issue 14): the simulated App pairs in one click and draws a preset.
    virtual) python3 tests/e2e/test_virtual_app.py --webdriver "127.0.0.1:$WD_PORT" --app "$APP" \
           --screenshot docs/window-virtual-app.png || status=1 ;;
    # The game API's panel (issue 15 point 5): connect code, a mod's call listed and played.
    games) python3 tests/e2e/test_games.py --webdriver "127.0.0.1:$WD_PORT" --app "$APP" \
           --screenshot docs/window-games.png || status=1 ;;
    # DG-LAB App 4.x (issue 13 point 4): the 4.x choice, a simulated 4.x App through the V4 link.
    v4) python3 tests/e2e/test_v4.py --webdriver "127.0.0.1:$WD_PORT" --app "$APP" \
           --screenshot docs/window-v4.png || status=1 ;;
  esac
  stop_driver
done
exit $status
