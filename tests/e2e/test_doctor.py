#!/usr/bin/env python3
"""End-to-end: the phone test, the pairing doctor and the protocol inspector in the real
window, over WebDriver, on 127.0.0.1 only (the doctor is limited to loopback; the phone is
urllib and the simulated App of test_app.py).

Standard library only; the WebDriver client, the simulated App and the step runner are
test_app.py's.
"""
import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_app import FakeApp, WebDriver, run_steps, wait_for  # noqa: E402


def invoke(wd, command, args=None):
    """A shell command through the window's own bridge (the answer, or raises its notice)."""
    got = wd.js_async(
        "const done = arguments[arguments.length - 1];"
        "window.__TAURI__.core.invoke(arguments[0], arguments[1]).then("
        "v => done({ok: v}), e => done({err: e}));", command, args or {})
    if "err" in got:
        raise AssertionError(f"{command}: {got['err']}")
    return got["ok"]


def rows(wd):
    """The inspector's rows as shown, newest first: [direction, kind, meaning text]."""
    return wd.js(
        "return Array.from(document.querySelectorAll('#inspector-table tr'), r =>"
        " [r.dataset.direction, r.dataset.kind, r.querySelector('.inspector__meaning').textContent]);")


def scroll_to(wd, css):
    wd.js("document.querySelector(arguments[0]).scrollIntoView({block: 'start'});", css)
    time.sleep(0.3)


def click(wd, css):
    """Clicks a control once it is in the middle of the view: WebDriver's own scrolling may
    leave it under the sticky top bar (with STOP), which then takes the click."""
    wd.js("document.querySelector(arguments[0]).scrollIntoView({block: 'center'});", css)
    wd.click(css)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--webdriver", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--docs", default="docs")
    args = ap.parse_args()

    wd = WebDriver(args.webdriver)
    ctx = {}
    results = []

    def step(name):
        def deco(fn):
            results.append((name, fn))
            return fn
        return deco

    @step("the window starts; the pairing address is set to loopback (tests dial nothing else)")
    def _():
        wd.start(args.app)
        url = wait_for("the pairing URL", lambda: (lambda u: u if "DGLAB-SOCKET" in u else None)(wd.text("#pairing-url")), timeout=15)
        hostport, terminal = url.split("#")[2][len("ws://"):].split("/")
        port = int(hostport.rsplit(":", 1)[1])
        wd.type_into("#manual-host", f"ws://127.0.0.1:{port}")
        click(wd, "#manual-apply")
        wait_for("the typed host in the URL", lambda: f"ws://127.0.0.1:{port}/" in wd.text("#pairing-url"))
        ctx.update(port=port, terminal=terminal, ws_url=f"ws://127.0.0.1:{port}/{terminal}")

    @step("the phone test offers http://127.0.0.1:<port>/check as a second QR code")
    def _():
        want = f"http://127.0.0.1:{ctx['port']}/check"
        wait_for("the phone-test URL", lambda: wd.text("#phone-check-url") == want)
        assert wd.js("const i = document.querySelector('#phone-check-img'); return i.complete && i.naturalWidth > 0")
        assert wd.text("#phone-check-status") == "No phone has opened the test page yet."

    @step("a phone's browser fetches /check: the page in its language, and the window says 'reached from 127.0.0.1'")
    def _():
        req = urllib.request.Request(f"http://127.0.0.1:{ctx['port']}/check",
                                     headers={"Accept-Language": "zh-CN,zh;q=0.9", "User-Agent": "E2E-Phone/1.0"})
        with urllib.request.urlopen(req, timeout=5) as r:
            body = r.read().decode()
            assert r.status == 200 and r.headers["X-DGLAB-Hub"] == "phone-check", (r.status, dict(r.headers))
        assert "你的手机可以连接到 DG-LAB Hub" in body, body[:300]
        status = wait_for("reached", lambda: (lambda s: s if s.startswith("Reached from 127.0.0.1:") else None)(wd.text("#phone-check-status")))
        print(f"    {status}")
        ctx["reached"] = status
        attempt = wait_for("the attempt in the doctor panel", lambda: wd.text("#doctor-attempts li[data-kind='reached']"))
        assert "opened the test page (E2E-Phone/1.0)" in attempt, attempt

    @step("a browser on the App's WebSocket path gets 426, listed with its reason in plain words")
    def _():
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{ctx['port']}/{ctx['terminal']}", timeout=5)
            raise AssertionError("expected 426")
        except urllib.error.HTTPError as e:
            assert e.code == 426, e.code
        line = wait_for("the refused attempt", lambda: wd.text("#doctor-attempts li[data-kind='http_refused']"))
        assert "HTTP 426" in line and "scan it with the DG-LAB App" in line, line

    @step("the doctor lists loopback with why it ranks there and a passing self-test")
    def _():
        wd.js("document.querySelector('.doctor-panel').dataset.only = '127.0.0.1';")
        click(wd, "#doctor-run")
        item = "#doctor-addresses li[data-addr='127.0.0.1']"
        wait_for("the self-test result", lambda: wd.js(f"const e = document.querySelector(\"{item}\"); return e && e.dataset.test"), timeout=15)
        text = wd.text(item)
        assert wd.js(f"return document.querySelector(\"{item}\").dataset.test") == "listening", text
        assert "loopback" in text and "Loopback: only programs on this computer" in text and "Listening here" in text, text
        fw = wd.text("#doctor-firewall")
        assert fw.startswith(f"Firewall (port {ctx['port']}):"), fw
        # The typed ws:// URL gets its hints too.
        hints = wd.text("#doctor-url")
        assert "A loopback address" in hints and f"http://127.0.0.1:{ctx['port']}/check" in hints, hints
        assert wd.text("#doctor-verdict"), "a verdict is shown"
        # The self-test itself reached the relay's page.
        wait_for("the doctor's own visit", lambda: "the doctor's own test reached the page" in wd.text("#doctor-attempts"))
        # …which is not a phone: the phone test still names the phone's visit.
        assert wd.text("#phone-check-status") == ctx["reached"], wd.text("#phone-check-status")
        scroll_to(wd, ".layout__tools")
        wd.screenshot(os.path.join(args.docs, "window-doctor.png"))

    @step("the inspector shows a pairing in order with its meanings")
    def _():
        click(wd, "#inspector-toggle")
        wait_for("running", lambda: wd.js("return document.querySelector('.inspector').dataset.running") == "true")
        app = FakeApp(ctx["ws_url"])
        app.bind()
        ctx["app"] = app
        want = [
            ("in", "bind_request", f"App {app.id} asks to pair with terminal {ctx['terminal']}"),
            ("out", "paired", f"paired: terminal {ctx['terminal']} with App {app.id}"),
            ("out", "strength_set", "A set to 0"),
            ("out", "strength_set", "B set to 0"),
            ("out", "clear", "clear A's waveform queue"),
            ("out", "clear", "clear B's waveform queue"),
            ("in", "strength_report", "App reports A 0/100 B 0/100"),
        ]

        def in_order():
            got = [tuple(r) for r in reversed(rows(wd))]
            it = iter(got)
            return all(w in it for w in want) and got
        wait_for("the pairing's frames", in_order)

    @step("a played preset shows its pulses; filters by kind and connection narrow the list")
    def _():
        name = next(p["name"] for p in invoke(wd, "list_presets") if p["builtin"])
        pattern = invoke(wd, "get_preset", {"name": name})["pattern"]
        invoke(wd, "play_waveform", {"channels": ["B"], "pattern": pattern, "repeat": "once"})
        pulses = ctx["app"].msgs_until(lambda g: any(m.startswith("pulse-B:") for m in g))
        print(f"    played {name!r}: the App got {sum(m.startswith('pulse-') for m in pulses)} pulse message(s)")
        wait_for("a pulse row", lambda: any(r[1] == "pulse" and r[2].startswith("pulse B: ") for r in rows(wd)))
        wd.js("const s = document.querySelector('#inspector-kind'); s.value = 'pulse'; s.dispatchEvent(new Event('change'));")
        shown = rows(wd)
        assert shown and all(r[1] == "pulse" for r in shown), shown
        wd.js("const s = document.querySelector('#inspector-kind'); s.value = ''; s.dispatchEvent(new Event('change'));")
        app_id = ctx["app"].id
        wd.js("const s = document.querySelector('#inspector-connection'); s.value = arguments[0]; s.dispatchEvent(new Event('change'));", app_id)
        conns = wd.js("return Array.from(document.querySelectorAll('#inspector-table tr'), r => r.dataset.connection)")
        assert conns and set(conns) == {app_id}, conns
        wd.js("const s = document.querySelector('#inspector-connection'); s.value = ''; s.dispatchEvent(new Event('change'));")

    @step("pause holds the list still; export gives the frames as JSON lines")
    def _():
        click(wd, "#inspector-pause")
        before = len(rows(wd))
        ctx["app"].report()
        time.sleep(0.5)
        assert len(rows(wd)) == before, "paused: nothing new is drawn"
        click(wd, "#inspector-pause")
        click(wd, "#inspector-export")
        href = wd.js("return document.querySelector('#inspector-download').href")
        prefix = "data:application/x-ndjson;charset=utf-8,"
        assert href.startswith(prefix), href[:80]
        lines = urllib.parse.unquote(href[len(prefix):]).strip().split("\n")
        records = [json.loads(line) for line in lines]
        kinds = [r["meaning"]["kind"] for r in records]
        assert "bind_request" in kinds and "paired" in kinds and "pulse" in kinds, kinds
        assert all({"time_ms", "connection", "role", "direction", "raw", "meaning", "text"} <= r.keys() for r in records)
        print(f"    exported {len(records)} record(s)")
        # The webview saves the download (WebKitGTK: into the app's working directory, here
        # the repository): the same lines; removed so the test leaves nothing behind.
        saved = "dglab-inspector.jsonl"
        try:
            wait_for("the saved export", lambda: os.path.exists(saved) and os.path.getsize(saved) > 0, timeout=3)
        except AssertionError as e:
            print(f"    (no saved download to compare: {e})")
        try:
            if os.path.exists(saved):
                with open(saved, encoding="utf-8") as f:
                    assert [json.loads(line) for line in f] == records, "the saved export differs"
                print("    the download was saved with the same lines")
        finally:
            if os.path.exists(saved):
                os.remove(saved)
        scroll_to(wd, ".inspector")
        wd.screenshot(os.path.join(args.docs, "window-inspector.png"))
        click(wd, "#inspector-toggle")

    try:
        passed, failed, skipped = run_steps(results, wd, "target/e2e/failure-doctor.png")
    finally:
        if "app" in ctx:
            ctx["app"].close()
        try:
            wd.quit()
        except Exception:
            pass
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
