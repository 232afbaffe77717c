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
        self.app = app
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", f"/session/{self.sid}")
            finally:
                self.sid = None
            # A launch while the previous instance is still on its way out is handed to it
            # (single instance) and exits: wait, as a user would see the window go first.
            import subprocess
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if subprocess.run(["pgrep", "-x", os.path.basename(self.app)[:15]], capture_output=True).returncode != 0:
                    break
                time.sleep(0.05)

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def text(self, css):
        return self.s("GET", f"/element/{self.find(css)}/text")

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.s("POST", "/execute/async", {"script": script, "args": list(args)})

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
    """The DG-LAB phone App, as far as the relay and our terminal can tell: it binds, and
    answers every strength command with a strength report, as the real App does (the gate
    waits for those confirmations while it ramps)."""

    def __init__(self, ws_url, limits=(100, 100)):
        base, terminal = ws_url.rsplit("/", 1)
        self.ws = WebSocket(f"{base}/{terminal}")
        hello = self.ws.recv_json()
        assert hello["type"] == "bind" and hello["message"] == "targetId", hello
        self.id = hello["clientId"]
        self.terminal = terminal
        self.strength = [0, 0]
        self.limit = list(limits)

    def bind(self, ours=True):
        self.ws.send_json({"type": "bind", "clientId": self.terminal, "targetId": self.id, "message": "DGLAB"})
        reply = self.ws.recv_json()
        assert reply["type"] == "bind" and reply["message"] == "200", reply
        if ours:
            # Every pairing with our terminal starts with both channels at 0 and both
            # queues cleared.
            first = self.msgs_until(lambda g: len(g) >= 4)
            assert first == ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"], first
        self.report()

    def send_msg(self, message):
        self.ws.send_json({"type": "msg", "clientId": self.terminal, "targetId": self.id, "message": message})

    def report(self):
        self.send_msg(f"strength-{self.strength[0]}+{self.strength[1]}+{self.limit[0]}+{self.limit[1]}")

    def handle(self, message):
        if message.startswith("strength-"):
            ch, mode, value = (int(x) for x in message[len("strength-"):].split("+"))
            cur = self.strength[ch - 1]
            cur = max(0, cur - value) if mode == 0 else cur + value if mode == 1 else value
            self.strength[ch - 1] = min(cur, self.limit[ch - 1])
            self.report()

    def msgs_until(self, done, timeout=8.0, answer=True):
        """Collects `msg` payloads until done(list) is true, answering them like the App, or
        with answer=False not at all (a phone slow to report)."""
        got = []
        deadline = time.monotonic() + timeout
        while not done(got):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"App got {got}, still waiting")
            frame = self.ws.recv_json(left)
            if frame["type"] == "msg":
                got.append(frame["message"])
                if answer:
                    self.handle(frame["message"])
        return got

    def take_until(self, done, timeout=8.0):
        """Collects `msg` payloads WITHOUT answering them until done(list) is true."""
        return self.msgs_until(done, timeout, answer=False)

    def drain(self, seconds):
        """Every `msg` that arrives within `seconds` (answered like the App)."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = self.ws.recv_json(left)
            except TimeoutError:
                break
            if frame["type"] == "msg":
                got.append(frame["message"])
                self.handle(frame["message"])
        return got

    def close(self):
        self.ws.close()


TIDE = None  # the official waveform 潮汐 and its expected frames, from tests/data


def official(name):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "data", "official-waveforms.json"), encoding="utf-8") as f:
        return next(v for v in json.load(f) if v["name"] == name)


STOP_FRAMES = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"]


def has_stop(got):
    """The stop's four frames, in order, somewhere in got (players' clears may surround them)."""
    return any(got[i:i + 4] == STOP_FRAMES for i in range(len(got)))


def app_pid(port):
    """The pid of the process listening on the relay's port (the app under test)."""
    import subprocess
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    import re
    m = re.search(r"pid=(\d+)", out)
    return int(m.group(1)) if m else None


def run_steps(results, wd, failure_png):
    """Runs each (name, fn) in order, printing ok/FAIL/SKIP; after the first failure the
    rest are skipped and a screenshot is saved. Returns (passed, failed, skipped)."""
    passed = failed = skipped = 0
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
                wd.screenshot(failure_png)
                print(f"    failure screenshot: {failure_png}")
            except Exception:
                pass
    return passed, failed, skipped


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
            # As the app does (tokio sets it): a TIME_WAIT left by an earlier run must not
            # make the test think someone else holds the port.
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
        page_ms = wd.js("return Math.round(performance.now())")
        print(f"    startup: launch to QR visible in {ctx['startup_ms']:.0f} ms "
              f"(includes the WebDriver session; the page itself is {page_ms} ms old)")
        # The product's promise is 2 s. On a machine shared with other builds the same
        # launch can take longer, so only a gross regression fails the run; over 2 s is
        # reported.
        if ctx["startup_ms"] > 2000:
            print(f"    WARNING: over the 2 s target (load average {os.getloadavg()[0]:.1f})")
        assert ctx["startup_ms"] < 4000, "the QR must be on screen within 2 s of launch (4 s with a loaded machine)"
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

    @step("STOP with no phone paired still latches, and says no phone was paired")
    def _():
        wd.click("#estop")
        wait_for("the latched state", lambda: "STOPPED" in wd.text("#estop-state"))
        said = wait_for("the no-phone line", lambda: wd.text("#estop-no-app"))
        assert said == "stopped — no phone paired", said
        kind = wd.js_async("const done = arguments[arguments.length - 1];"
                           "window.__TAURI__.core.invoke('strength_state').then(s => done(s.latched));")
        assert kind is True, kind
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")
        wait_for("the stop lines to go", lambda: wd.js("return document.querySelector('#estop-apps').children.length") == 0)

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

    @step("dragging the A slider sends strength-1+2+N to the App: a +1 ramp as the gate says, ending on the last value")
    def _():
        app = ctx["app"]
        wd.js("const s = document.querySelector('#strength-a');"
              "for (let v = 1; v <= 37; v++) { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }"
              "s.dispatchEvent(new Event('change', {bubbles: true}));")
        got = app.msgs_until(lambda g: g and g[-1] == "strength-1+2+37")
        assert got == [f"strength-1+2+{v}" for v in range(1, 38)], got
        print(f"    App received strength-1+2+1 … strength-1+2+37 ({len(got)} steps, each confirmed by the App)")
        wait_for("the gate's state", lambda: wd.text("#strength-a-gate").startswith("target 37, sent 37"))

    @step("asking above the cap is clamped to it, and the window says so")
    def _():
        wd.js("const s = document.querySelector('#strength-a'); s.value = 80;"
              "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change'));")
        got = ctx["app"].msgs_until(lambda g: g and g[-1] == "strength-1+2+40")
        assert got == ["strength-1+2+38", "strength-1+2+39", "strength-1+2+40"], got
        msg = wait_for("the clamp message", lambda: (lambda m: m if "limited to 40" in m else None)(wd.text("#strength-message")))
        print(f"    window: {msg!r}")
        wait_for("the slider to show the capped target", lambda: wd.js("return document.querySelector('#strength-a').value") == "40")

    @step("the App's strength report and soft limits show on screen")
    def _():
        app = ctx["app"]
        app.limit = [90, 80]
        app.report()
        wait_for("limit A = 90", lambda: wd.text("#strength-a-limit") == "90")
        assert wd.text("#strength-a-app") == "40"
        assert wd.text("#strength-b-app") == "0"
        assert wd.text("#strength-b-limit") == "80"

    @step("the App's feedback buttons appear as their shapes")
    def _():
        ctx["app"].send_msg("feedback-7")
        ctx["app"].send_msg("feedback-0")
        wait_for("two feedback rows", lambda: wd.js("return document.querySelectorAll('#feedback-items li').length") == 2)
        shapes = wd.js("return Array.from(document.querySelectorAll('#feedback-items li'), li => li.textContent)")
        assert shapes[0].startswith("○A") and shapes[1].startswith("□B"), shapes

    @step("an imported share string plays on B: the pulse-B frames are its exact expansion")
    def _():
        tide = official("潮汐")
        wd.type_into("#import-text", tide["raw"])
        wd.click("#import-apply")
        want = f"{len(tide['expectedV3'])} frames"
        wait_for("the preview", lambda: want in wd.text("#wave-preview-text"))
        wd.js("document.querySelector('#play-channel').value = 'B'; document.querySelector('#play-repeat').value = 'once';")
        wd.click("#play")
        frames = []

        def enough(got):
            frames.clear()
            for m in got:
                assert not m.startswith("pulse-A:"), m
                if m.startswith("pulse-B:"):
                    frames.extend(json.loads(m[len("pulse-B:"):]))
            return len(frames) >= len(tide["expectedV3"])
        ctx["app"].msgs_until(enough, timeout=10)
        assert frames == tide["expectedV3"], frames
        print(f"    App received {len(frames)} pulse-B frames equal to the official expansion of 潮汐")
        wait_for("finished", lambda: "finished" in wd.text("#play-progress-b"), timeout=6)

    @step("dragging a bar on the canvas edits a point; undo and redo restore it")
    def _():
        wd.click(".waveform-editor__tab[data-section='0']")
        before = wd.text("#wave-point-label")
        bars = wd.find("#wave-bars")
        rect = wd.s("GET", f"/element/{bars}/rect")
        # Pointer actions: press near the top of the first bar and release there.
        x = -rect["width"] / 2 + 14
        y = -rect["height"] / 2 + 10
        wd.s("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "origin": {ELEMENT: bars}, "x": int(x), "y": int(y)},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerMove", "origin": {ELEMENT: bars}, "x": int(x), "y": int(y) + 1},
            {"type": "pointerUp", "button": 0}]}]})
        wd.s("DELETE", "/actions")
        after = wait_for("the point to change", lambda: (lambda t: t if t != before else None)(wd.text("#wave-point-label")))
        assert after.startswith("Point 1: ") and int(after.split(": ")[1]) >= 95, (before, after)
        wd.click("#wave-undo")
        wait_for("undo", lambda: wd.text("#wave-point-label") == before)
        wd.click("#wave-redo")
        wait_for("redo", lambda: wd.text("#wave-point-label") == after)
        print(f"    {before!r} -> drag -> {after!r}; undo/redo ok")

    @step("save the pattern as a preset")
    def _():
        wd.click("#preset-save-as")
        wait_for("the name dialog", lambda: wd.js("return document.querySelector('.confirm-dialog').open"))
        wd.type_into("#confirm-input", "E2E tide")
        wd.click("#confirm-ok")
        wait_for("the preset in the list", lambda: wd.js("return !!document.querySelector('#preset-list li[data-name=\"E2E tide\"]')"))
        wait_for("the dialog to close", lambda: wd.js("return !document.querySelector('.confirm-dialog').open"))
        # A window tall enough for the whole page, scrolled to the top, painted.
        try:
            wd.s("POST", "/window/rect", {"width": 1440, "height": 1150})
        except RuntimeError as e:
            print(f"    (window not resized: {e})")
        wd.js("window.scrollTo(0, 0); document.activeElement?.blur();")
        time.sleep(0.5)
        wd.screenshot(args.screenshot)
        print(f"    screenshot: {args.screenshot}")

    @step("Escape: both channels to 0 and both queues cleared at the App; the latch shows")
    def _():
        wd.press(ESCAPE)
        got = ctx["app"].msgs_until(lambda g: {"strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"} <= set(g))
        assert got[:4] == ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"], got
        print(f"    App received {got}")
        wait_for("the latched state", lambda: "STOPPED" in wd.text("#estop-state"))
        assert wd.js("return document.querySelector('#strength-a').disabled") is True
        assert wd.js("return document.querySelector('#strength-a').value") == "0"

    @step("while latched the backend refuses strength; re-arm releases it and the slider works again")
    def _():
        kind = wd.s("POST", "/execute/async", {"script": "const done = arguments[arguments.length - 1];"
                    "window.__TAURI__.core.invoke('set_strength', {channel: 'A', value: 5}).then(() => done('sent'), e => done(e.kind));", "args": []})
        assert kind == "stopped", kind
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")
        wd.js("const s = document.querySelector('#strength-a'); s.value = 3;"
              "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change'));")
        got = ctx["app"].msgs_until(lambda g: g and g[-1] == "strength-1+2+3")
        # The stop also stopped both players, whose own clear-1/clear-2 may arrive here.
        assert [m for m in got if not m.startswith("clear-")] == ["strength-1+2+1", "strength-1+2+2", "strength-1+2+3"], got

    @step("the global shortcut (Pause, pressed at the X server, not in the webview) stops; re-arm")
    def _():
        import subprocess
        wd.js("document.activeElement?.blur();")
        subprocess.run(["xdotool", "key", "Pause"], check=True)
        got = ctx["app"].msgs_until(lambda g: {"strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"} <= set(g))
        assert got[:4] == ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"], got
        wait_for("the latched state", lambda: "STOPPED" in wd.text("#estop-state"))
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")

    @step("another terminal's App on our relay: capped and ramped, stopped by our STOP first, held while stopped")
    def _():
        zeros = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"]
        base = ctx["ws_url"].rsplit("/", 1)[0]
        other = WebSocket(base + "/")  # a game mod or a script, say
        tid = other.recv_json()["clientId"]
        app2 = FakeApp(f"{base}/{tid}")
        app2.bind(ours=False)

        def send(m):
            other.send_json({"type": "msg", "clientId": tid, "targetId": app2.id, "message": m})

        def other_hears(code):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                f = other.recv_json(deadline - time.monotonic())
                if f.get("message") == code:
                    return f
            raise AssertionError(f"the other terminal never heard {code}")

        send("strength-1+2+150")
        got = app2.msgs_until(lambda g: len(g) >= 1)
        assert got == ["strength-1+2+1"], got  # capped, and +1 at a time
        wd.press(ESCAPE)
        got = app2.msgs_until(lambda g: len(g) >= 4)
        assert got[:4] == zeros, got
        ctx["app"].msgs_until(lambda g: set(zeros) <= set(g))
        wait_for("the latched state", lambda: "STOPPED" in wd.text("#estop-state"))
        send("strength-1+2+3")
        other_hears("423")
        late = app2.drain(0.5)
        assert not [m for m in late if m.startswith(("strength-", "pulse-")) and not m.endswith("+0")], late
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")
        app2.close()
        other.close()
        ctx["app"].drain(0.3)

    @step("follow soft limit aims B at the App's soft limit; a stop switches it off for good")
    def _():
        app = ctx["app"]
        app.limit = [90, 3]
        app.report()
        wait_for("limit B = 3", lambda: wd.text("#strength-b-limit") == "3")
        wd.click("#follow-b")
        got = app.msgs_until(lambda g: g and g[-1] == "strength-2+2+3")
        assert [m for m in got if m.startswith("strength-2")] == ["strength-2+2+1", "strength-2+2+2", "strength-2+2+3"], got
        wd.press(ESCAPE)
        app.msgs_until(lambda g: {"strength-1+2+0", "strength-2+2+0"} <= set(g))
        wait_for("follow switched off", lambda: wd.js("return document.querySelector('#follow-b').checked") is False)
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")
        app.limit = [90, 5]
        app.report()  # a new soft limit after re-arm must not raise anything
        wait_for("limit B = 5", lambda: wd.text("#strength-b-limit") == "5")
        late = app.drain(1.0)
        assert not [m for m in late if m.startswith("strength-") and not m.endswith("+0")], late

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

    @step("the phone comes back reporting 80/60: it is sent 0 on both at once; the window shows its level and says so")
    def _():
        old = ctx.pop("app")
        old.close()
        wait_for("the App's row to go", lambda: wd.js(
            "return !document.querySelector(`tr[data-id='${arguments[0]}']`)", old.id))
        app = FakeApp(ctx["ws_url"], limits=(200, 200))
        app.bind()
        ctx["app"] = app
        # Its dial (or another controller) put it at 80/60: the App reports strength-80+60+200+200.
        app.strength = [80, 60]
        t0 = time.monotonic()
        app.report()
        got = app.take_until(lambda g: {"strength-1+2+0", "strength-2+2+0"} <= set(g), timeout=3)
        ms = (time.monotonic() - t0) * 1000
        assert got[:2] == ["strength-1+2+0", "strength-2+2+0"], got
        print(f"    App reported 80/60 (caps 40); it was sent {got[:2]} {ms:.0f} ms later")
        # The phone has not answered yet: the window shows the level it reported.
        wait_for("the App's level", lambda: wd.text("#strength-a-app") == "80" and wd.text("#strength-b-app") == "60")
        assert "is-above" in wd.js("return document.querySelector('#strength-a-app').className")
        msg = wait_for("the notice", lambda: (lambda m: m if "the App said 80" in m else None)(wd.text("#strength-message")))
        print(f"    window: {msg!r}")
        wait_for("the notice in the safety events", lambda: wd.js(
            "return !!document.querySelector('#safety-log-items li[data-kind=app_above_limit]')"))
        # The phone applies the zeros and reports 0/0.
        for m in got:
            app.handle(m)
        wait_for("the App at 0", lambda: wd.text("#strength-a-app") == "0" and wd.text("#strength-b-app") == "0")

    @step("at 1280x720, scrolled to the bottom, STOP is on screen and a click stops; the phone's confirmation shows")
    def _():
        app = ctx["app"]
        # The phone at 2 on A: a stop must wait for its 0/0 report.
        wd.js("const s = document.querySelector('#strength-a'); s.value = 2;"
              "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change'));")
        app.msgs_until(lambda g: g and g[-1] == "strength-1+2+2")
        time.sleep(0.2)
        try:
            wd.s("POST", "/window/rect", {"width": 1280, "height": 720})
        except RuntimeError as e:
            print(f"    (window not resized: {e})")
        time.sleep(0.3)
        wd.js("window.scrollTo(0, document.documentElement.scrollHeight);")
        time.sleep(0.2)
        view = wd.js("const r = document.querySelector('#estop').getBoundingClientRect();"
                     "const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
                     "return {top: r.top, bottom: r.bottom, vh: innerHeight, vw: innerWidth, y: scrollY,"
                     " hit: hit && hit.closest('#estop') ? 'estop' : (hit ? hit.outerHTML.slice(0, 80) : null)};")
        print(f"    viewport {view['vw']}x{view['vh']}, scrolled to {view['y']}, STOP at {view['top']:.0f}-{view['bottom']:.0f}")
        assert view["y"] > 0, "the page should be taller than the window"
        assert 0 <= view["top"] and view["bottom"] <= view["vh"], view
        assert view["hit"] == "estop", view
        # A real pointer click at STOP's centre (not element.click()).
        estop = wd.find("#estop")
        wd.s("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "origin": {ELEMENT: estop}, "x": 0, "y": 0},
            {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})
        wd.s("DELETE", "/actions")
        # Slow phone: the stop arrives, no report yet; the window says it waits, and resends.
        got = app.take_until(has_stop)
        waiting = wait_for("the waiting line", lambda: wd.text(f"#estop-apps li[data-app='{app.id}'][data-state=waiting]"))
        assert "waiting for the phone to confirm" in waiting and "resending" in waiting, waiting
        again = app.take_until(lambda g: has_stop(g), timeout=3)
        print(f"    not confirmed: the stop was sent again ({again[:4]})")
        for m in got + again:
            app.handle(m)
        confirmed = wait_for("the confirmed line", lambda: wd.text(f"#estop-apps li[data-app='{app.id}'][data-state=confirmed]"))
        print(f"    window: {waiting!r} -> {confirmed!r}")
        assert wd.js("return window.scrollY") > 0, "the click must not have needed a scroll"
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")

    @step("with a dialog open STOP is still clickable; Escape closes a dialog without stopping, then stops")
    def _():
        app = ctx["app"]
        wd.js("window.scrollTo(0, 0);")
        wd.click("#open-settings")
        wait_for("the settings dialog", lambda: wd.js("return document.querySelector('.settings-dialog').open"))
        hit = wd.js("const r = document.querySelector('#estop').getBoundingClientRect();"
                    "const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
                    "return hit && hit.closest('#estop') ? 'estop' : (hit ? hit.outerHTML.slice(0, 80) : null);")
        assert hit == "estop", f"STOP is covered by {hit}"
        # The page under the dialog is blocked.
        under = wd.js("const r = document.querySelector('#strength-a').getBoundingClientRect();"
                      "const hit = document.elementFromPoint(r.left + 5, r.top + r.height / 2);"
                      "return hit ? hit.id : null;")
        assert under != "strength-a", "the page under a dialog should not take clicks"
        wd.click("#estop")
        app.msgs_until(has_stop)
        wait_for("the latched state", lambda: "STOPPED" in wd.text("#estop-state"))
        assert wd.js("return document.querySelector('.settings-dialog').open") is True
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")
        app.drain(0.5)  # the players' own clears after the stop
        # Escape with the dialog open: the dialog closes, nothing latches.
        wd.press(ESCAPE)
        wait_for("the dialog to close", lambda: wd.js("return !document.querySelector('.settings-dialog').open"))
        time.sleep(0.3)
        assert wd.text("#estop-state") == "Armed"
        late = app.drain(0.5)
        assert not [m for m in late if m.startswith(("strength-", "clear-"))], f"no stop for closing a dialog: {late}"
        # Escape with none open: stops.
        wd.press(ESCAPE)
        app.msgs_until(has_stop)
        wait_for("the latched state", lambda: "STOPPED" in wd.text("#estop-state"))
        wd.click("#rearm")
        wait_for("armed", lambda: wd.text("#estop-state") == "Armed")

    @step("a second launch exits at once, starts no relay, and the running window is focused")
    def _():
        import subprocess
        t0 = time.monotonic()
        second = subprocess.run([args.app], capture_output=True, text=True, timeout=20)
        ms = (time.monotonic() - t0) * 1000
        out = second.stdout + second.stderr
        assert second.returncode == 0, (second.returncode, out[-600:])
        assert "relay listening" not in out, out[-600:]
        print(f"    the second process exited {second.returncode} after {ms:.0f} ms, without a relay")
        assert ms < 10000, ms
        if args.log_dir:
            logs = os.path.join(args.log_dir, "org.dglab-hub.desktop", "logs", "dglab-hub.log")
            wait_for("the first instance to log the second launch", lambda: "a second launch" in open(logs, encoding="utf-8").read())
        # Still one relay on the port, and it is the first one's: the window works.
        assert wd.text("#estop-state") == "Armed"

    @step("a cap of 300 or -3 typed into 'Your cap' is refused in words; the field shows the cap in force")
    def _():
        before = wd.js("return document.querySelector('#cap-a').value")
        for bad in ("300", "-3"):
            wd.js("const f = document.querySelector('#cap-a'); f.value = arguments[0];"
                  "f.dispatchEvent(new Event('change'));", bad)
            msg = wait_for("the refusal in words", lambda: wd.text("#cap-a-message"))
            assert "0" in msg and "200" in msg and before in msg, msg
            assert wd.js("return document.querySelector('#cap-a').value") == before
        caps = wd.s("POST", "/execute/async", {"script": "const done = arguments[arguments.length - 1];"
                    "window.__TAURI__.core.invoke('strength_state').then(s => done(s.caps[0]), e => done(String(e)));", "args": []})
        assert str(caps) == before, (caps, before)
        print(f"    refused 300 and -3: {msg!r}")

    @step("restart the app: the preset and the typed address are still there")
    def _():
        ctx.pop("app").close()
        wd.quit()
        wd.start(args.app)
        wait_for("the preset after restart", lambda: wd.js(
            "return !!document.querySelector('#preset-list li[data-name=\"E2E tide\"]')"), timeout=15)
        url = wait_for("the pairing URL", lambda: (lambda u: u if "DGLAB-SOCKET" in u else None)(wd.text("#pairing-url")))
        assert "#ws://127.0.0.1:" in url, url
        wd.click("#preset-list li[data-name=\"E2E tide\"] .preset-panel__load")
        wait_for("the preset loaded", lambda: "E2E tide" in wd.text("#preset-current"))
        wait_for("its preview (the 23 frames of 潮汐)", lambda: "23 frames" in wd.text("#wave-preview-text"))

    @step("settings show the log folder; Chinese applies at once and is kept")
    def _():
        wd.click("#open-settings")
        wait_for("the settings dialog", lambda: wd.js("return document.querySelector('.settings-dialog').open"))
        log_dir = wait_for("the log folder", lambda: (lambda t: t if t not in ("", "—") else None)(wd.text("#path-log")))
        assert log_dir.endswith("/logs"), log_dir
        if args.log_dir:
            assert log_dir.startswith(args.log_dir), (log_dir, args.log_dir)
            logs = os.listdir(log_dir)
            assert any(f.startswith("dglab-hub") for f in logs), logs
        wd.js("document.querySelector('#settings-language').value = 'zh';")
        wd.click("#settings-save")
        wait_for("the Chinese window", lambda: wd.text("#estop") == "急停", timeout=10)
        assert wd.text(".qr-panel h2") == "连接手机"
        print(f"    log folder {log_dir}; language switched to Chinese")

    @step("in Chinese, errors are worded in Chinese: a refused address, and a value Tauri itself refuses")
    def _():
        wd.type_into("#manual-host", "http://example.org")
        wd.click("#manual-apply")
        err = wait_for("the refused address", lambda: wd.text("#qr-error") or None)
        assert "无法使用" in err and "ws:// 或 wss://" in err, err
        # 300 does not fit the command's u8: Tauri refuses it before the shell runs, in
        # English; the window must still say it in the user's language.
        said = wd.js_async(
            "const done = arguments[arguments.length - 1];"
            "const url = (p) => new URL(p, document.baseURI).href;"
            "Promise.all([import(url('js/backend.js')), import(url('js/lib/i18n.js'))]).then(([b, i]) =>"
            " b.backend.setStrength('A', 300).then(() => done('accepted'), (e) => done(i.words(e))));")
        assert said == "有一个值未被接受；未作任何更改。", said
        print(f"    {err!r}; {said!r}")

    @step("SIGTERM to the app with a phone paired: the phone gets 0/0/clear/clear before its socket closes")
    def _():
        url = wd.text("#pairing-url")
        # The typed address in the URL keeps the port it was typed with; dial the port the
        # relay really listens on after the restart.
        actual = wd.js_async(
            "const done = arguments[arguments.length - 1];"
            "window.__TAURI__.core.invoke('pairing_info').then(i => done(i.port.actual), e => done(String(e)));")
        terminal = url.rsplit("/", 1)[1]
        ws_url = f"ws://127.0.0.1:{actual}/{terminal}"
        app = FakeApp(ws_url)
        app.bind()
        ctx["app"] = app
        port = int(ws_url.rsplit(":", 1)[1].split("/")[0])
        pid = wait_for("the app's pid", lambda: app_pid(port))
        wd.js("const s = document.querySelector('#strength-b'); s.value = 2;"
              "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change'));")
        app.msgs_until(lambda g: g and g[-1] == "strength-2+2+2")
        os.kill(pid, 15)
        got = []
        try:
            while True:
                frame = app.ws.recv_json(5)
                if frame["type"] == "msg":
                    got.append(frame["message"])
        except Exception as e:  # the socket closes: the relay shut down
            end = type(e).__name__
        assert has_stop(got), got
        print(f"    after SIGTERM the App received {got}, then its socket ended ({end})")
        wait_for("the app to exit", lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z", timeout=10)
        ctx.pop("app").close()
        wd.sid = None  # the session's app is gone

    passed = failed = skipped = 0
    try:
        passed, failed, skipped = run_steps(results, wd, "target/e2e/failure.png")
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
