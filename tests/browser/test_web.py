"""Browser test of the web remote and the OBS overlay: Debian's Chromium, headless, against
the headless relay's game API, with a simulated phone App on the relay's socket.

The remote raises A and B within the caps (the App never gets more than the cap), the
overlay shows the App's live strength, STOP is the hub's real emergency stop (the App gets 0
on both channels, and a raise after it is refused and reaches nothing)."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from wsclient import WebSocket, Closed  # noqa: E402
from cdp import Browser  # noqa: E402

CAP = 12
RESULTS = []


def wait_for(what, fn, timeout=15.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
            last = v
        except Exception as e:  # the page may still be loading
            last = e
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def step(name, fn):
    try:
        fn()
        RESULTS.append((name, None))
        print(f"ok   {name}", flush=True)
    except Exception as e:
        RESULTS.append((name, e))
        print(f"FAIL {name}: {e}", flush=True)
        raise


class App:
    """The phone App: binds to our terminal, applies absolute strengths up to its soft
    limits and reports back, on its own thread; records every message and the highest
    strength it was ever sent."""

    def __init__(self, url):
        base, terminal = url.rsplit("/", 1)
        self.ws = WebSocket(f"{base}/{terminal}")
        hello = self.ws.recv_json()
        self.id, self.terminal = hello["clientId"], terminal
        self.level, self.limit, self.max_sent = [0, 0], [100, 100], [0, 0]
        self.messages = []
        self.lock = threading.Lock()
        self.ws.send_json({"type": "bind", "clientId": terminal, "targetId": self.id, "message": "DGLAB"})
        assert self.ws.recv_json()["message"] == "200"
        self.report()
        threading.Thread(target=self.run, daemon=True).start()

    def report(self):
        msg = f"strength-{self.level[0]}+{self.level[1]}+{self.limit[0]}+{self.limit[1]}"
        self.ws.send_json({"type": "msg", "clientId": self.terminal, "targetId": self.id, "message": msg})

    def run(self):
        while True:
            try:
                frame = self.ws.recv_json(timeout=3600)
            except (Closed, OSError, TimeoutError):
                return
            m = frame.get("message", "")
            if frame.get("type") != "msg":
                continue
            with self.lock:
                self.messages.append(m)
                if m.startswith("strength-"):
                    ch, mode, value = (int(x) for x in m[len("strength-"):].split("+"))
                    assert mode == 2, m
                    self.max_sent[ch - 1] = max(self.max_sent[ch - 1], value)
                    self.level[ch - 1] = min(value, self.limit[ch - 1])
                    self.report()

    def snapshot(self):
        with self.lock:
            return list(self.level), list(self.max_sent), len(self.messages)

    def since(self, n):
        with self.lock:
            return self.messages[n:]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_relay(binary, port):
    env = dict(os.environ, DGLAB_LOG="info")
    proc = subprocess.Popen(
        [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--v4-port", "0", "--local-terminal",
         "--http-port", str(port), "--cap-a", str(CAP), "--cap-b", str(CAP), "--max-rise-per-sec", "200"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    found = {}
    log = []

    def read(stream, key, pattern):
        for line in stream:
            log.append(line.rstrip())
            m = re.search(pattern, line)
            if m and key not in found:
                found[key] = m.group(1)

    threading.Thread(target=read, args=(proc.stdout, "url", r"#DGLAB-SOCKET#(ws://\S+)"), daemon=True).start()
    threading.Thread(target=read, args=(proc.stderr, "code", r"connect code (\S+)\)"), daemon=True).start()
    wait_for("the relay's pairing URL and connect code", lambda: "url" in found and "code" in found)
    return proc, found["url"], found["code"], log


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    binary = sys.argv[1]
    out_dir = os.path.join(root, "target", "browser")
    os.makedirs(out_dir, exist_ok=True)
    port = free_port()
    relay, url, code, log = start_relay(binary, port)
    browser = None
    try:
        client_id, base = code.split("@", 1)
        assert base == f"http://127.0.0.1:{port}", code
        app = App(url)
        browser = Browser(os.environ.get("CHROMIUM", "chromium"))
        remote = browser.open(f"{base}/remote?clientId={client_id}")
        overlay = browser.open(f"{base}/overlay?clientId={client_id}")

        def remote_sees_the_app():
            wait_for("the remote to see the paired App", lambda: "App paired" in (remote.text("conn") or ""))
            assert remote.text("a-max") == str(CAP), remote.text("a-max")
            wait_for("the pulse list", lambda: remote.js("document.getElementById('pulse').options.length") > 0)

        def set_range(ch, value):
            remote.js(f"(() => {{ const r = document.getElementById('{ch}-range'); r.max = 200; "
                      f"r.value = {value}; r.dispatchEvent(new Event('change')); }})()")

        def raise_a_within_the_cap():
            set_range("a", 30)  # far above the cap: the server clamps
            wait_for("A to rise on the App", lambda: app.snapshot()[0][0] > 0)
            wait_for("the base to read the cap", lambda: remote.text("a-set") == str(CAP))
            time.sleep(0.5)
            level, max_sent, _ = app.snapshot()
            assert 0 < level[0] <= CAP and max_sent[0] <= CAP, (level, max_sent)

        def raise_b_within_the_cap():
            set_range("b", 50)
            wait_for("B to reach the cap", lambda: app.snapshot()[0][1] == CAP)
            time.sleep(0.3)
            assert app.snapshot()[1][1] <= CAP, app.snapshot()

        def overlay_shows_the_live_strength():
            def same():
                level = app.snapshot()[0]
                return overlay.text("a-value") == str(level[0]) and overlay.text("b-value") == str(level[1])
            wait_for("the overlay to show the App's levels", same)
            assert overlay.js("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
            overlay.screenshot(os.path.join(out_dir, "overlay.png"))
            remote.screenshot(os.path.join(out_dir, "remote.png"))

        def viewer_path_serves_the_overlay():
            viewer = browser.open(f"{base}/viewer.html?clientId={client_id}")
            wait_for("the OBS widget path", lambda: viewer.text("a-value") == str(app.snapshot()[0][0]))

        def stop_stops_and_holds():
            mark = app.snapshot()[2]
            remote.click("stop")
            wait_for("0 on both channels at the App",
                     lambda: {"strength-1+2+0", "strength-2+2+0"} <= set(app.since(mark)))
            wait_for("the App at 0", lambda: app.snapshot()[0] == [0, 0])
            wait_for("the remote to say the stop is latched", lambda: "latched" in remote.text("conn"))
            after = app.snapshot()[2]
            set_range("a", 5)
            wait_for("the raise to be refused", lambda: "emergency stop" in (remote.text("msg") or ""))
            remote.click("a-up")
            remote.click("fire")
            time.sleep(1.5)
            raised = [m for m in app.since(after) if re.match(r"strength-\d\+2\+[1-9]", m)]
            assert not raised, raised
            assert app.snapshot()[0] == [0, 0], app.snapshot()
            wait_for("the overlay to show STOP and 0",
                     lambda: overlay.js("!document.getElementById('stopped').hidden")
                     and overlay.text("a-value") == "0")

        step("the remote page sees the paired App and the cap", remote_sees_the_app)
        step("the remote raises A, never past the cap", raise_a_within_the_cap)
        step("the remote raises B, never past the cap", raise_b_within_the_cap)
        step("the overlay shows the live strength on a transparent page", overlay_shows_the_live_strength)
        step("Game-Hub's OBS widget path serves the overlay", viewer_path_serves_the_overlay)
        step("STOP is the real emergency stop: App at 0, raises refused", stop_stops_and_holds)
    except Exception:
        print("relay log (tail):\n" + "\n".join(log[-30:]), file=sys.stderr)
    finally:
        if browser:
            browser.close()
        relay.terminate()
        try:
            relay.wait(10)
        except subprocess.TimeoutExpired:
            relay.kill()
    failed = sum(1 for _, e in RESULTS if e)
    print(f"browser: {len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed or len(RESULTS) < 6 else 0


if __name__ == "__main__":
    sys.exit(main())
