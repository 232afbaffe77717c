"""The official MCP Python SDK (PyPI `mcp`) as a real client of DG-LAB Hub's MCP server.

Run by tests/gamehub_mcp.rs against the game API on 127.0.0.1 with a simulated App paired:

    mcp_client.py streamable http://127.0.0.1:PORT/mcp GAME_ID CAP
    mcp_client.py sse http://127.0.0.1:PORT/api/mcp/GAME_ID GAME_ID CAP

Prints one `PASS name` / `FAIL name: why` line per check; the Rust side counts them and
checks what the App itself received (never above the cap, nothing after the stop).
Bounded at 60 s, so a hang fails rather than blocks.
"""

import asyncio
import json
import sys

from mcp import ClientSession, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

failures = 0


def check(name, ok, why=""):
    global failures
    if ok:
        print(f"PASS {name}", flush=True)
    else:
        failures += 1
        print(f"FAIL {name}: {why}", flush=True)


def text_of(result):
    return json.loads(result.content[0].text)


async def refused(session, name, args):
    """The tool call's JSON-RPC error code, or None when it was taken."""
    try:
        await session.call_tool(name, args)
        return None
    except MCPError as e:
        return e.code


async def drive(session, transport, game, cap):
    init = await session.initialize()
    check(f"{transport}: negotiated a version we speak",
          init.protocol_version in ("2025-06-18", "2025-03-26", "2024-11-05"),
          init.protocol_version)
    await session.send_ping()
    check(f"{transport}: ping", True)

    names = {t.name for t in (await session.list_tools()).tools}
    wanted = {"status", "set_strength", "increase_strength", "decrease_strength",
              "play_pulse", "fire", "stop", "connect_game", "disconnect_game",
              "get_game_status", "set_pulse", "fire_action", "get_pulse_list",
              "get_resources_list", "get_resource"}
    check(f"{transport}: every tool is listed", wanted <= names, sorted(wanted - names))

    st = text_of(await session.call_tool("status", {}))
    games = {g["gameId"]: g for g in st["games"]}
    check(f"{transport}: status names our game, paired",
          game in games and games[game]["appPaired"], st)
    check(f"{transport}: status shows the user's cap", games[game]["caps"]["a"] == cap, st)
    check(f"{transport}: not stopped", st["emergencyStopLatched"] is False, st)

    res = text_of(await session.call_tool("set_strength", {"strength": 150}))
    base = res["games"][0]["baseStrength"]
    check(f"{transport}: set_strength above the cap is held at the cap", base == cap, res)
    # The App climbs (the gate's rise rate) to the cap and no further.
    reached = False
    for _ in range(200):
        g = text_of(await session.call_tool("get_game_status", {}))["games"][0]
        a = (g.get("app") or {}).get("strengthA", 0)
        if a > cap:
            break
        if a == cap:
            reached = True
            break
        await asyncio.sleep(0.05)
    check(f"{transport}: the App reached the cap, not beyond", reached, g)

    pulses = text_of(await session.call_tool("get_pulse_list", {}))["pulseList"]
    check(f"{transport}: pulses are listed", any(p["id"] == "d6f83af0" for p in pulses), pulses)
    res = text_of(await session.call_tool("play_pulse", {"pulse": "潮汐"}))
    check(f"{transport}: play_pulse by name", res["pulseId"] == "7eae1e5f", res)
    code = await refused(session, "set_pulse", {"pulseId": "no-such-pulse"})
    check(f"{transport}: an unknown pulse is -32004", code == -32004, code)
    code = await refused(session, "status", {"gameId": "00000000-0000-0000-0000-000000000000"})
    check(f"{transport}: an unknown game is -32001", code == -32001, code)

    res = await session.call_tool("fire", {"strength": 200, "duration": 1000})
    check(f"{transport}: fire is taken", not res.is_error, res)

    resources = await session.list_resources()
    check(f"{transport}: game://strength is listed",
          any(str(r.uri) == "game://strength" for r in resources.resources), resources)
    read = await session.read_resource("game://strength")
    body = json.loads(read.contents[0].text)
    check(f"{transport}: game://strength reads the capped base",
          body["currentStrength"] == cap and body["strengthLimit"] == cap and body["isConnected"],
          body)

    if transport == "sse":
        code = await refused(session, "disconnect_game", {})
        check("sse: the URL's game cannot be disconnected", code == -32005, code)

    res = text_of(await session.call_tool("stop", {}))
    check(f"{transport}: stop is taken", "emergency stop" in res["message"], res)
    for name, args in [("set_strength", {"strength": 5}), ("increase_strength", {"amount": 3}),
                       ("fire_action", {"strength": 10}), ("play_pulse", {"pulse": "d6f83af0"})]:
        code = await refused(session, name, args)
        check(f"{transport}: after stop, {name} is refused with -32005", code == -32005, code)
    st = text_of(await session.call_tool("status", {}))
    check(f"{transport}: status says the stop is latched", st["emergencyStopLatched"] is True, st)
    # Print the last line the Rust side waits for before it looks at the App.
    print(f"STOPPED {transport}", flush=True)


async def main():
    transport, url, game, cap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if transport == "streamable":
        async with streamable_http_client(url) as (read, write):
            async with ClientSession(read, write) as session:
                await drive(session, transport, game, cap)
    else:
        async with sse_client(url) as (read, write):
            async with ClientSession(read, write) as session:
                await drive(session, transport, game, cap)


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    except Exception as e:  # noqa: BLE001 - any failure is a FAIL line
        failures += 1
        print(f"FAIL {sys.argv[1]}: {type(e).__name__}: {e}", flush=True)
    sys.exit(1 if failures else 0)
