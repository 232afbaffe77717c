#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test of the web remote and the OBS overlay
# (tests/browser/run.sh drives it headless over the Chrome DevTools protocol, with the
# `websockets` package the Python venv already has, so no chromedriver is needed).
# Idempotent and quiet once Chromium is there, so scripts/test.sh can call it every run.
set -euo pipefail

if [ "$(dpkg-query -W -f='${Status}' chromium 2>/dev/null)" = "install ok installed" ]; then
  exit 0
fi
echo "browser-deps: installing chromium"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "browser-deps: ready ($(chromium --version 2>/dev/null || echo 'chromium installed'))"
