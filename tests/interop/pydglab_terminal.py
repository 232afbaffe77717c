#!/usr/bin/env python3
"""PyDGLab-WS (third-party terminal library) against our relay.

Run by tests/interop_pydglab.rs as `python pydglab_terminal.py ws://127.0.0.1:PORT`.
The terminal is PyDGLab-WS's own `DGLabWSConnect`; the App is simulated here with plain
`websockets`, speaking the frames docs/protocol.md describes, so that neither side is our code.

One line per check ("PASS name" / "FAIL name: detail"); exit status 1 if any check
failed, 2 if the script could not run to the end. Every await has a timeout so a relay
that stays silent fails the check instead of hanging the test.
"""

import asyncio
import json
import sys
import uuid

import websockets
from pydglab_ws import (
    Channel,
    DGLabWSConnect,
    FeedbackButton,
    RetCode,
    StrengthData,
    StrengthOperationType,
)

# Per-await limit: everything here is loopback, so 5 s means "never came".
STEP = 5.0
QR_PREFIX = "https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#"

failures = 0
checks = 0


def check(name, ok, detail=""):
    global failures, checks
    checks += 1
    if ok:
        print(f"PASS {name}", flush=True)
    else:
        failures += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def step(aw):
    return asyncio.wait_for(aw, STEP)


def is_uuid4(s):
    """Canonical lower-case hyphenated UUID of version 4, as the relay must hand out."""
    try:
        u = uuid.UUID(str(s))
    except ValueError:
        return False
    return u.version == 4 and str(u) == str(s)


class App:
    """A minimal DG-LAB App: connects to the QR code's URL, learns its id, binds."""

    def __init__(self, ws, app_id):
        self.ws = ws
        self.id = app_id

    @classmethod
    async def connect(cls, url):
        ws = await step(websockets.connect(url, compression=None))
        greeting = json.loads(await step(ws.recv()))
        return cls(ws, greeting), greeting

    async def recv(self):
        """Next frame as a dict, skipping heartbeats (the relay may send them any time)."""
        while True:
            frame = json.loads(await step(self.ws.recv()))
            if frame.get("type") != "heartbeat":
                return frame

    async def send(self, kind, client_id, message):
        await step(
            self.ws.send(
                json.dumps(
                    {"type": kind, "clientId": client_id, "targetId": self.id, "message": message},
                    separators=(",", ":"),
                )
            )
        )

    async def nothing_within(self, seconds):
        """True if no (non-heartbeat) frame arrives within `seconds`."""
        try:
            await asyncio.wait_for(self.recv(), seconds)
        except asyncio.TimeoutError:
            return True
        return False


async def pair_app(url, terminal_id, label):
    """Scans the QR code: connects to url/<terminal id>, takes its id, sends bind."""
    app, greeting = await App.connect(f"{url}/{terminal_id}")
    ok = (
        greeting.get("type") == "bind"
        and greeting.get("targetId") == ""
        and greeting.get("message") == "targetId"
        and is_uuid4(greeting.get("clientId"))
    )
    check(f"{label}: greeting is bind/targetId with a fresh UUIDv4", ok, repr(greeting))
    app.id = greeting.get("clientId")
    await app.send("bind", terminal_id, "DGLAB")
    answer = await app.recv()
    want = {"type": "bind", "clientId": terminal_id, "targetId": app.id, "message": "200"}
    check(f"{label}: bind answered 200 to the App", answer == want, repr(answer))
    return app


async def main(url):
    async with DGLabWSConnect(url, register_timeout=STEP) as client:
        terminal_id = str(client.client_id)
        check("register: client_id is a UUIDv4 handed out by the relay", is_uuid4(terminal_id),
              terminal_id)

        qr = client.get_qrcode(url)
        expected_qr = f"{QR_PREFIX}{url}/{terminal_id}"
        check("qrcode: exact protocol format", qr == expected_qr, f"{qr!r} != {expected_qr!r}")
        # Parse it back the way the App does: two '#' separators, id after the last '/'.
        parts = (qr or "").split("#")
        ws_url = parts[2] if len(parts) == 3 else ""
        base, _, tail = ws_url.rpartition("/")
        check("qrcode: parses back to relay URL and terminal id",
              len(parts) == 3 and base == url and tail == terminal_id, repr(parts))

        app = await pair_app(url, terminal_id, "app1")
        ret = await step(client.bind())
        check("client.bind() returns SUCCESS", ret == RetCode.SUCCESS, repr(ret))
        check("client.target_id is the App's id", str(client.target_id) == app.id,
              f"{client.target_id} != {app.id}")

        # App -> terminal: state report.
        await app.send("msg", terminal_id, "strength-10+20+100+150")
        data = await step(client.recv_data())
        check("recv_data() yields StrengthData(10,20,100,150)",
              data == StrengthData(a=10, b=20, a_limit=100, b_limit=150), repr(data))

        # Terminal -> App: commands must arrive verbatim and in order. The expected strings
        # are written out by hand (not built with PyDGLab's helpers) so that a change in
        # either the library or the relay shows up here. PyDGLab sends lower-case hex.
        pulses = [
            ((10, 10, 10, 10), (0, 10, 20, 30)),
            ((240, 240, 240, 240), (100, 100, 100, 100)),
            ((100, 120, 171, 200), (0, 50, 75, 100)),
        ]
        expected = [
            "strength-1+2+10",
            'pulse-A:["0a0a0a0a000a141e","f0f0f0f064646464","6478abc800324b64"]',
            "clear-1",
        ]
        await step(client.set_strength(Channel.A, StrengthOperationType.SET_TO, 10))
        await step(client.add_pulses(Channel.A, *pulses))
        await step(client.clear_pulses(Channel.A))
        got = [await app.recv() for _ in expected]
        for want_msg, frame in zip(expected, got):
            want = {"type": "msg", "clientId": terminal_id, "targetId": app.id, "message": want_msg}
            check(f"App receives {want_msg.split(':')[0]} verbatim, in order", frame == want,
                  f"{frame!r} != {want!r}")

        await app.send("msg", terminal_id, "feedback-3")
        data = await step(client.recv_data())
        check("feedback-3 yields FeedbackButton.A4", data == FeedbackButton.A4, repr(data))

        # The App leaves: the terminal gets break 209 and its socket stays usable.
        await step(app.ws.close())
        data = await step(client.recv_data())
        check("App disconnect yields RetCode.CLIENT_DISCONNECTED (break 209)",
              data == RetCode.CLIENT_DISCONNECTED, repr(data))
        await asyncio.sleep(0.2)
        pong = await step(client.websocket.ping())
        await step(pong)
        check("terminal socket stays open after break", client.websocket.open, "closed")

        # Re-scan: a second App pairs with the same terminal id.
        app2 = await pair_app(url, terminal_id, "app2 (re-scan)")
        ret = await step(client.rebind())
        check("client.rebind() returns SUCCESS for the second App", ret == RetCode.SUCCESS,
              repr(ret))
        check("client.target_id is the second App's id", str(client.target_id) == app2.id,
              f"{client.target_id} != {app2.id}")
        await step(client.set_strength(Channel.B, StrengthOperationType.INCREASE, 5))
        frame = await app2.recv()
        want = {"type": "msg", "clientId": terminal_id, "targetId": app2.id,
                "message": "strength-2+1+5"}
        check("second App receives commands", frame == want, repr(frame))
        await step(app2.ws.close())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: pydglab_terminal.py ws://127.0.0.1:PORT", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))
    except Exception as e:  # noqa: BLE001 - any crash is a failed run, reported as such
        print(f"FAIL run aborted after {checks} checks: {type(e).__name__}: {e}", flush=True)
        sys.exit(2)
    print(f"{checks - failures} passed, {failures} failed", flush=True)
    sys.exit(1 if failures else 0)
