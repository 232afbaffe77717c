#!/usr/bin/env python3
"""End-to-end: the Games panel (issue 15 point 5) in the real window.

The game API moves to a free port from the panel; the connect code is our terminal's id at
that port; the simulated App ("Try without a phone") pairs; with game output on, a plain
HTTP call like a game mod's (urllib, no Origin) appears in the recent-calls list and moves
the simulated App to its base strength, never past the cap; a call from a web page's
origin is refused and listed as refused. Standard library only; the WebDriver client comes
from test_app.py.
"""
import argparse
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_app import WebDriver, run_steps, wait_for  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--webdriver", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--screenshot", default="docs/window-games.png")
    args = ap.parse_args()

    wd = WebDriver(args.webdriver)
    ctx = {}
    results = []

    def step(name):
        def deco(fn):
            results.append((name, fn))
            return fn
        return deco

    def invoke(cmd, args_=None):
        return wd.js_async("const done = arguments[arguments.length - 1];"
                           "window.__TAURI__.core.invoke(arguments[0], arguments[1]).then(done, e => done({error: e}));",
                           cmd, args_ or {})

    def text(sel):
        # textContent: the panel may be below the fold, where WebDriver's visible text is empty.
        return wd.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", sel)

    def click(sel):
        # Scrolled into view first: the side column is taller than the window, and the
        # sticky top bar would take a WebDriver click meant for a control under it.
        wd.js("document.querySelector(arguments[0]).scrollIntoView({block: 'center'});", sel)
        wd.click(sel)

    def strength_a():
        m = re.match(r"A: strength (\d+) ", wd.text("#virtual-line-a"))
        return int(m.group(1)) if m else None

    @step("the window has a Games panel; the game API moves to a free port from it")
    def _():
        wd.start(args.app)
        wait_for("the QR code", lambda: "DGLAB-SOCKET" in wd.text("#pairing-url"), timeout=15)
        ctx["terminal"] = wd.text("#pairing-url").rsplit("/", 1)[1]
        wait_for("the panel's status", lambda: text("#games-status"))
        port = free_port()
        wd.js("document.querySelector('#games-enabled').checked = true;"
              "document.querySelector('#games-lan').checked = false;")
        wd.type_into("#games-port", str(port))
        click("#games-apply")
        wait_for("the API on the new port", lambda: text("#games-status") == f"Game API on http://127.0.0.1:{port}")
        ctx["port"] = port

    @step("the connect code is our terminal's id at the API's address")
    def _():
        code = wait_for("the connect code", lambda: (lambda c: c if "@" in c else None)(text("#games-code")))
        assert code == f"{ctx['terminal']}@http://127.0.0.1:{ctx['port']}", code
        assert text("#games-overlay") == f"http://127.0.0.1:{ctx['port']}/overlay?clientId={ctx['terminal']}"
        assert text("#games-remote").startswith(f"http://127.0.0.1:{ctx['port']}/remote?clientId=")
        print(f"    {code}")

    @step("the simulated App pairs and game output switches on")
    def _():
        click("#virtual-start")
        wait_for("the paired status", lambda: "paired" in wd.text("#virtual-status"))
        click("#games-output")
        wait_for("output on", lambda: invoke("games_state")["output"] is True)
        settings = invoke("get_settings")["settings"]
        ctx["cap"] = settings["capA"]

    @step("a game mod's call shows in the recent calls and moves the App to its base, within the cap")
    def _():
        gid, port = ctx["terminal"], ctx["port"]
        path = f"/api/v2/game/{gid}/strength"
        status, body = post(f"http://127.0.0.1:{port}{path}", {"strength": {"set": 150}, "randomStrength": {"set": 0}})
        assert status == 200 and body["status"] == 1, body
        wait_for("the call in the list", lambda: f"POST {path}" in text("#games-calls"))
        want = min(ctx["cap"], 200)
        seen = []

        def at_base():
            v = strength_a()
            seen.append(v)
            return v is not None and v > 0 and "base" in text("#games-list") and v == int(
                re.search(r"base (\d+)", text("#games-list")).group(1))
        wait_for("the App at its base", at_base, timeout=20)
        assert max(v for v in seen if v is not None) <= want, (seen, want)
        base = int(re.search(r"base (\d+)", text("#games-list")).group(1))
        assert base <= ctx["cap"], (base, ctx["cap"])
        print(f"    A at {strength_a()} (base {base}, cap {ctx['cap']}); list: {wd.text('#games-calls').splitlines()[0]!r}")

    @step("a call from a web page's origin is refused and listed as refused")
    def _():
        status, body = post(f"http://127.0.0.1:{ctx['port']}/api/game/all/fire", {"strength": 10},
                            {"Origin": "http://evil.example"})
        assert status == 403 and body["code"] == "ERR::FORBIDDEN_ORIGIN", (status, body)
        wait_for("the refusal in the list",
                 lambda: wd.js("const li = document.querySelector('#games-calls li');"
                               "return li && li.dataset.kind === 'api_refused' && li.textContent.includes('evil.example');"))

    @step("screenshot")
    def _():
        wd.js("document.querySelector('.games-panel').scrollIntoView({block: 'center'});")
        time.sleep(0.3)
        wd.screenshot(args.screenshot)
        print(f"    {args.screenshot}")

    @step("game output off and the simulated App disconnects")
    def _():
        click("#games-output")
        wait_for("output off", lambda: invoke("games_state")["output"] is False)
        wd.js("document.querySelector('#virtual-stop').click()")
        wait_for("the button again", lambda: wd.js("return !document.querySelector('#virtual-start').hidden"))

    passed = failed = skipped = 0
    try:
        passed, failed, skipped = run_steps(results, wd, "target/e2e/failure-games.png")
    finally:
        try:
            wd.quit()
        except Exception as e:
            print(f"quit: {e}")
    print(f"e2e games: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
