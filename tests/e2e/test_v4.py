#!/usr/bin/env python3
"""End-to-end: the DG-LAB App 4.x in the real window (issue 13 point 4).

The pairing panel offers "DG-LAB App 4.x" and "3.x (SOCKET)", each saying which App version
it is for; choosing 4.x shows the V4 link (https://dungeon-lab.cn/s/?v=1&action=socket&url=…)
of the window's own controller on its own V4 relay. A simulated 4.x App decodes that link
exactly as the phone does, joins with its ?tid=, gets controller_attached and reports its
devices; the V4 table lists the App and its slots and follows a strength patch. The choice
is remembered (the panel reopens on 4.x after a reload). Standard library only; the
WebDriver client comes from test_app.py, the WebSocket client from wsclient.py.
"""
import argparse
import json
import os
import sys
import time
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_app import WebDriver, run_steps, wait_for  # noqa: E402
from wsclient import WebSocket  # noqa: E402

V4_PREFIX = "https://dungeon-lab.cn/s/?v=1&action=socket&url="


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--webdriver", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--screenshot", default="docs/window-v4.png")
    args = ap.parse_args()

    wd = WebDriver(args.webdriver)
    ctx = {}
    results = []

    def step(name):
        def deco(fn):
            results.append((name, fn))
            return fn
        return deco

    def slots(app_id):
        return wd.js("const r = document.querySelector(`#v4-apps-body tr[data-id='${arguments[0]}']`);"
                     "return r ? Array.from(r.querySelectorAll('.v4-apps__slot'), s => s.textContent) : null;", app_id)

    @step("the pairing panel offers the 4.x and 3.x Apps, saying which version each is for")
    def _():
        wd.start(args.app)
        wait_for("the 3.x code first", lambda: "DGLAB-SOCKET" in wd.text("#pairing-url"), timeout=15)
        labels = wd.js("return Array.from(document.querySelectorAll('.qr-panel__app'), l => l.textContent)")
        assert labels == ["DG-LAB App 4.xApp version 4.0 and newer",
                          "DG-LAB App 3.x (SOCKET)App version 3.x"], labels
        assert wd.js("return document.querySelector('#pairing-app-socket').checked")
        assert wd.text("#v4-apps-empty") == "No DG-LAB App 4.x connected."

    @step("choosing 4.x shows the V4 link of the window's controller")
    def _():
        wd.click("#pairing-app-v4 + .qr-panel__app-name")
        link = wait_for("the V4 link", lambda: (lambda u: u if u.startswith(V4_PREFIX) else None)(wd.text("#pairing-url")))
        socket_url = parse_qs(urlparse(link).query)["url"][0]
        u = urlparse(socket_url)
        assert u.scheme == "ws" and u.path == "/" and u.query.startswith("tid="), socket_url
        ctx["tid"], ctx["port"] = u.query[4:], u.port
        assert "DG-LAB App 4.x" in wd.text("#qr-hint")
        print(f"    {socket_url}")

    @step("a simulated 4.x App joins through that link and its device slots are listed")
    def _():
        app = WebSocket(f"ws://127.0.0.1:{ctx['port']}/?tid={ctx['tid']}")
        ctx["app"] = app
        hello = app.recv_json()
        assert hello["type"] == "hello", hello
        attached = app.recv_json()
        assert attached == {"type": "controller_attached", "clientId": ctx["tid"]}, attached
        app.send_json({"type": "message", "data": {"t": "ev", "ev": "devices.snapshot", "devices": [
            {"slotId": "slot-1", "name": "郊狼 3.0", "type": "COYOTE_030",
             "props": {"power": 76, "intensityA": 0, "intensityB": 0},
             "slotState": {"hasDevice": True, "channelA": {"intensityMax": 50}, "channelB": {"intensityMax": 40}}},
            {"slotId": "slot-2", "name": "OVC", "type": "OVC_1", "slotState": {"hasDevice": False}},
        ]}})
        ctx["id"] = hello["clientId"]
        got = wait_for("the App's slots", lambda: (lambda s: s if s and len(s) == 2 else None)(slots(ctx["id"])))
        assert got[0] == "郊狼 3.0 (COYOTE_030) · A 0/50 · B 0/40 · battery 76 %", got
        assert got[1] == "OVC (OVC_1) · A —/— · B —/— · box not connected", got
        ours = wd.js("return document.querySelector(`#v4-apps-body tr[data-id='${arguments[0]}']`).children[3].textContent", ctx["id"])
        assert ours == "this window", ours
        wait_for("the status line", lambda: wd.js("return document.querySelector('#pairing-status').dataset.state") == "v4")
        status = wd.js("return document.querySelector('#pairing-status').textContent")
        assert status == "DG-LAB App 4.x connected (1)", status

    @step("a strength patch from the App shows in its slot")
    def _():
        ctx["app"].send_json({"type": "message", "data": {"t": "ev", "ev": "slots.patch", "slots": [
            {"slotId": "slot-1", "props": {"intensityA": 7}}]}})
        wait_for("A at 7", lambda: (slots(ctx["id"]) or [""])[0].startswith("郊狼 3.0 (COYOTE_030) · A 7/50"))

    @step("+ on A drives the Coyote through the gate: the App gets a raise of 1 on channel A")
    def _():
        wd.click("#v4-apps-body li[data-slot='slot-1'] .v4-apps__step[data-ch='A'][data-to='8']")
        deadline = time.time() + 5
        while True:
            assert time.time() < deadline, "no raise reached the App"
            f = ctx["app"].recv_json()
            d = f.get("data") or {}
            if f.get("type") == "message" and d.get("m") == "device.op" and d["data"].get("t") == 3:
                assert d["data"]["c"] == 0 and d["data"]["s"] == "slot-1" and d["data"]["v"] == 1, d
                break
        print(f"    the App got {json.dumps(d['data'])}")

    @step("screenshot")
    def _():
        wd.js("document.querySelector('.v4-apps').scrollIntoView({block: 'center'});")
        time.sleep(0.8)  # every panel painted (the presets list arrives last)
        wd.screenshot(args.screenshot)
        print(f"    {args.screenshot}")

    @step("the choice is remembered: after a reload the panel is on 4.x")
    def _():
        # A mark on the old page tells it apart from the new one.
        wd.js("window.__beforeReload = true; location.reload()")
        wait_for("the V4 link on the new page", lambda: wd.js(
            "const u = document.querySelector('#pairing-url');"
            "return !window.__beforeReload && !!(u && u.textContent.startsWith(arguments[0]));", V4_PREFIX),
            timeout=15)
        assert wd.js("return document.querySelector('#pairing-app-v4').checked")

    @step("the App leaves: its row goes")
    def _():
        ctx["app"].close()
        wait_for("no App row", lambda: slots(ctx["id"]) is None)
        wait_for("the empty line", lambda: wd.js(
            "return document.querySelector('#v4-apps-empty').hidden ? document.querySelector('#v4-apps-body').innerHTML.slice(0, 600) : true") is True)
        wait_for("the status line", lambda: wd.js("return document.querySelector('#pairing-status').dataset.state") == "not-connected")

    @step("back to 3.x: the choice goes back to the SOCKET code (and stays so for the next scenario)")
    def _():
        wd.click("#pairing-app-socket + .qr-panel__app-name")
        wait_for("the 3.x code", lambda: "DGLAB-SOCKET" in wd.text("#pairing-url"))
        assert wd.text("#qr-hint").startswith("Scan with the DG-LAB App (SOCKET control)")

    passed = failed = skipped = 0
    try:
        passed, failed, skipped = run_steps(results, wd, "target/e2e/failure-v4.png")
    finally:
        wd.quit()
    print(f"e2e v4: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
