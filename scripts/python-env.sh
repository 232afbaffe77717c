#!/usr/bin/env bash
# Creates ./.venv with the pinned PyDGLab-WS used by tests/interop_pydglab.rs and
# benches/relay_load.rs, and the official MCP SDK used by tests/gamehub_mcp.rs.
# Idempotent: when the venv already holds exactly the pinned versions it does nothing
# and prints nothing, so CI can call it on every run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/tests/interop/requirements.txt"
python="${PYTHON:-python3}"

# A stamp of the requirements file lets a changed pin reinstall without a network
# round-trip on the common "nothing changed" path.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
    && "$venv/bin/python" -c 'import pydglab_ws, websockets, mcp' 2>/dev/null; then
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "python-env: creating $venv"
    "$python" -m venv "$venv"
fi
echo "python-env: installing $(grep -c '==' "$req") pinned packages"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req"
echo "$want" >"$stamp"
echo "python-env: ready ($("$venv/bin/python" -c 'import importlib.metadata as m; print("pydglab-ws", m.version("pydglab-ws"), "websockets", m.version("websockets"), "mcp", m.version("mcp"))'))"
