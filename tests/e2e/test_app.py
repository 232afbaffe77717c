#!/usr/bin/env python3
"""End-to-end: DG-LAB Hub in a real window, driven over WebDriver, with a simulated phone App.

Standard library only. One keep-alive HTTP connection to tauri-driver (a new connection per
call makes tauri-driver drop some of them). The scenario is one story, step by step; a
failed step skips the rest, since each builds on the one before.
"""
import argparse
import base64
import http.client
import json
import os
import socket
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WebSocket  # noqa: E402

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
ESCAPE = "\ue00c"


class WebDriver:
    def __init__(self, hostport):
        host, port = hostport.split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.sid = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status >= 400:
            raise RuntimeError(f"{method} {path} -> {r.status}: {raw[:400]!r}")
        return json.loads(raw or b"null")["value"]

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def start(self, app):
        caps = {"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": app}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", f"/session/{self.sid}")
            finally:
                self.sid = None

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def text(self, css):
        return self.s("GET", f"/element/{self.find(css)}/text")

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def type_into(self, css, text):
        el = self.find(css)
        self.s("POST", f"/element/{el}/clear", {})
        self.s("POST", f"/element/{el}/value", {"text": text})

    def press(self, key):
        self.s("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]})
        self.s("DELETE", "/actions")

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as f:
            f.write(png)


def wait_for(what, fn, timeout=10.0, interval=0.05):
    """Polls fn until it returns something truthy; raises with the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # the element may not exist yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class FakeApp:
    """The DG-LAB phone App, as far as the relay and our terminal can tell."""

    def __init__(self, ws_url):
        base, terminal = ws_url.rsplit("/", 1)
        self.ws = WebSocket(f"{base}/{terminal}")
        hello = self.ws.recv_json()
        assert hello["type"] == "bind" and hello["message"] == "targetId", hello
        self.id = hello["clientId"]
        self.terminal = terminal

    def bind(self):
        self.ws.send_json({"type": "bind", "clientId": self.terminal, "targetId": self.id, "message": "DGLAB"})
        reply = self.ws.recv_json()
        assert reply["type"] == "bind" and reply["message"] == "200", reply

    def send_msg(self, message):
        self.ws.send_json({"type": "msg", "clientId": self.terminal, "targetId": self.id, "message": message})

    def msgs_until(self, done, timeout=5.0):
        """Collects `msg` payloads until done(list) is true."""
        got = []
        deadline = time.monotonic() + timeout
        while not done(got):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"App got {got}, still waiting")
            frame = self.ws.recv_json(left)
            if frame["type"] == "msg":
                got.append(frame["message"])
        return got

    def close(self):
        self.ws.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--webdriver", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--screenshot", default="docs/screenshot.png")
    ap.add_argument("--log-dir", default=None)
    args = ap.parse_args()

    wd = WebDriver(args.webdriver)
    ctx = {}
    results = []

    def step(name):
        def deco(fn):
            results.append((name, fn))
            return fn
        return deco

    @step("the preferred port 9999 is busy: the relay takes the next one and the window says so")
    def _():
        try:
            blocker = socket.socket()
            blocker.bind(("0.0.0.0", 9999))
            blocker.listen(1)
            ctx["blocker"] = blocker
        except OSError:
            pass  # someone else holds 9999 already: the fallback is exercised all the same
        t0 = time.monotonic()
        wd.start(args.app)
        wait_for("the QR code to be drawn", lambda: wd.js(
            "const i = document.querySelector('#qr-img');"
            "const u = document.querySelector('#pairing-url');"
            "return !!(i && i.complete && i.naturalWidth > 0 && u && u.textContent.includes('DGLAB-SOCKET'));"),
            timeout=15, interval=0.02)
        ctx["startup_ms"] = (time.monotonic() - t0) * 1000
        print(f"    startup: launch to QR visible in {ctx['startup_ms']:.0f} ms")
        assert ctx["startup_ms"] < 2000, "the QR must be on screen within 2 s of launch"
        notice = wait_for("the busy-port notice", lambda: wd.text("#port-notice"))
        assert "9999 is busy" in notice, notice

    @step("the pairing URL is on the page; a typed ws:// host rewrites it")
    def _():
        url = wd.text("#pairing-url")
        prefix = "https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#ws://"
        assert url.startswith(prefix), url
        assert url.count("#") == 2, url
        hostport, terminal = url[len(prefix):].split("/")
        port = int(hostport.rsplit(":", 1)[1])
        assert port != 9999, url
        # The test dials loopback, never a LAN address: the manual host field gives us that URL.
        wd.type_into("#manual-host", f"ws://127.0.0.1:{port}")
        wd.click("#manual-apply")
        want = f"https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#ws://127.0.0.1:{port}/{terminal}"
        wait_for("the typed host in the URL", lambda: wd.text("#pairing-url") == want)
        ctx.update(port=port, terminal=terminal, ws_url=want.split("#")[2])

    @step("a phone App connects and binds; its row appears in the binding table")
    def _():
        app = FakeApp(ctx["ws_url"])
        app.bind()
        ctx["app"] = app
        short = app.id[:8]

        def row():
            return wd.js(
                "const r = document.querySelector(`tr[data-id='${arguments[0]}']`);"
                "return r ? Array.from(r.children, c => c.textContent) : null;", app.id)
        cells = wait_for("the App's row", lambda: (lambda c: c if c and c[4] == ctx["terminal"][:8] else None)(row()))
        assert cells[0] == short and cells[1] == "App" and cells[2].startswith("127.0.0.1:"), cells
        ours = wd.js("const r = document.querySelector('tr.is-ours');"
                     "return r ? Array.from(r.children, c => c.textContent) : null;")
        assert ours[4] == short, ours

    @step("dragging the A slider sends strength-1+2+N to the App, throttled, ending on the last value")
    def _():
        app = ctx["app"]
        wd.js("const s = document.querySelector('#strength-a');"
              "for (let v = 1; v <= 37; v++) { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }"
              "s.dispatchEvent(new Event('change', {bubbles: true}));")
        got = app.msgs_until(lambda g: g and g[-1] == "strength-1+2+37")
        values = [int(m.rsplit("+", 1)[1]) for m in got]
        assert all(m.startswith("strength-1+2+") for m in got), got
        assert values == sorted(values) and max(values) == 37, got
        assert len(got) < 37, f"not throttled: {got}"
        print(f"    App received {got}")

    @step("the App's strength report shows on screen")
    def _():
        ctx["app"].send_msg("strength-37+5+100+80")
        wait_for("A = 37", lambda: wd.text("#strength-a-app") == "37")
        assert wd.text("#strength-a-limit") == "100"
        assert wd.text("#strength-b-app") == "5"
        assert wd.text("#strength-b-limit") == "80"
        wd.screenshot(args.screenshot)
        print(f"    screenshot: {args.screenshot}")

    @step("Escape: both channels to 0 and both queues cleared at the App; the latch shows")
    def _():
        wd.press(ESCAPE)
        got = ctx["app"].msgs_until(lambda g: {"strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"} <= set(g))
        print(f"    App received {got}")
        wait_for("the latched state", lambda: "STOPPED" in wd.text("#estop-state"))
        assert wd.js("return document.querySelector('#strength-a').disabled") is True
        assert wd.js("return document.querySelector('#strength-a').value") == "0"

    @step("re-arm releases the latch; the slider works again")
    def _():
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")
        wd.js("const s = document.querySelector('#strength-a'); s.value = 3;"
              "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change'));")
        ctx["app"].msgs_until(lambda g: g and g[-1] == "strength-1+2+3")

    @step("the phone drops; the same QR code pairs it again")
    def _():
        old = ctx["app"]
        old.close()
        wait_for("the App's row to go", lambda: wd.js(
            "return !document.querySelector(`tr[data-id='${arguments[0]}']`)", old.id))
        wait_for("the phone-left message", lambda: "left" in wd.text("#strength-message"))
        app = FakeApp(ctx["ws_url"])
        app.bind()
        ctx["app"] = app
        wait_for("the new App's row", lambda: wd.js(
            "return !!document.querySelector(`tr[data-id='${arguments[0]}']`)", app.id))

    passed = failed = skipped = 0
    try:
        for name, fn in results:
            if failed:
                skipped += 1
                print(f"SKIP {name}")
                continue
            t = time.monotonic()
            try:
                fn()
                passed += 1
                print(f"ok   {name} ({(time.monotonic() - t) * 1000:.0f} ms)")
            except Exception:
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc()
                try:
                    wd.screenshot("target/e2e/failure.png")
                    print("    failure screenshot: target/e2e/failure.png")
                except Exception:
                    pass
    finally:
        if "app" in ctx:
            ctx["app"].close()
        wd.quit()
        if "blocker" in ctx:
            ctx["blocker"].close()
    if "startup_ms" in ctx:
        print(f"startup (launch to QR visible): {ctx['startup_ms']:.0f} ms")
    print(f"e2e: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
