#!/usr/bin/env python3
"""End-to-end: the window as a new user meets it (issue 12), in a real window over WebDriver.

Start-up state, fit at 1366×768, the lasting pairing status, no layout jumps, the clipboard,
number fields that refuse in words, the port kept stable, presets read entry by entry, unsaved
edits kept across a language switch, built-in names and tags in both languages, themes, the
recent log; and the screenshots in docs/ (both languages, both themes, 1366×768).

Runs after test_app.py in tests/e2e/run.sh, with the same scratch XDG folders (passed in).
Standard library only; the WebDriver client and the simulated App come from test_app.py.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_app import FakeApp, WebDriver, run_steps, wait_for  # noqa: E402

IDENTIFIER = "org.dglab-hub.desktop"
# A 1366×768 laptop screen: the window's default size must fit it with its title bar and a
# desktop panel, and the screenshots are taken at the full 1366×768.
SCREEN = (1366, 768)


def clipboard():
    """The X clipboard as another program sees it (Tk reads the CLIPBOARD selection)."""
    code = "import tkinter; r = tkinter.Tk(); r.withdraw(); print(r.clipboard_get(), end='')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=10)
    return out.stdout if out.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--webdriver", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--config-home", required=True)
    ap.add_argument("--data-home", required=True)
    ap.add_argument("--docs", default="docs")
    args = ap.parse_args()
    config_dir = os.path.join(args.config_home, IDENTIFIER)
    data_dir = os.path.join(args.data_home, IDENTIFIER)
    settings_path = os.path.join(config_dir, "settings.json")

    wd = WebDriver(args.webdriver)
    ctx = {}
    results = []

    def step(name):
        def deco(fn):
            results.append((name, fn))
            return fn
        return deco

    def settings():
        with open(settings_path, encoding="utf-8") as f:
            return json.load(f)

    def write_settings(**changes):
        os.makedirs(config_dir, exist_ok=True)
        s = settings() if os.path.exists(settings_path) else {}
        s.update(changes)
        with open(settings_path, "w", encoding="utf-8") as f:
            json.dump(s, f)

    def status_text():
        # textContent: WebDriver's text may include the CSS ::before mark (● / ○).
        return wd.js("return document.querySelector('#pairing-status').textContent")

    def ready():
        wait_for("the window to be ready", lambda: wd.js("return !!window.__dglabReadyAt && !document.body.classList.contains('is-starting')"), timeout=20)

    def resize(w, h):
        wd.s("POST", "/window/rect", {"width": w, "height": h})
        wait_for("the viewport", lambda: wd.js("return window.innerWidth") <= w, timeout=5)

    def rect(css):
        return wd.js("const r = document.querySelector(arguments[0]).getBoundingClientRect();"
                     "return {x: r.x, y: r.y, w: r.width, h: r.height, bottom: r.bottom, right: r.right};", css)

    def shoot(name):
        # A fresh page with a phone paired: what a user sees once the App has scanned.
        wd.js("location.reload()")
        time.sleep(0.3)
        ready()
        url = wait_for("the pairing URL", lambda: (lambda u: u if "DGLAB-SOCKET" in u else None)(wd.text("#pairing-url")))
        hostport, terminal = url.split("#")[2][len("ws://"):].split("/")
        app = FakeApp(f"ws://127.0.0.1:{hostport.rsplit(':', 1)[1]}/{terminal}")
        app.bind()
        wait_for("connected", lambda: status_text().startswith(("Phone connected", "手机已连接")))
        # Start-up toasts fade on their own; the picture shows the window, not them.
        wd.js("window.scrollTo(0, 0); document.activeElement?.blur(); document.querySelector('.toasts').replaceChildren();")
        time.sleep(0.4)
        path = os.path.join(args.docs, name)
        wd.screenshot(path)
        app.close()
        wait_for("not connected", lambda: not status_text().startswith(("Phone connected", "手机已连接")))
        print(f"    screenshot: {path}")

    @step("start-up: the page says it is starting the relay before anything else, then gives way")
    def _():
        # A presets file with one bad entry among good ones, and the preferred port taken.
        os.makedirs(data_dir, exist_ok=True)
        with open(os.path.join(data_dir, "presets.json"), "w", encoding="utf-8") as f:
            json.dump({"version": 1, "presets": [
                {"name": "Good one", "body": {"frames": ["0A0A0A0A64646464"]}},
                {"name": "Broken one", "body": {"pattern": {"rest": 101, "playRate": 1, "balance": 8, "sections": []}}},
                {"name": "Good two", "body": {"frames": ["0A0A0A0A00000000"]}},
            ]}, f)
        # English, dark, the automatic address, whatever test_app.py left behind.
        write_settings(language="en", theme="dark", preferredAddress=None)
        wd.start(args.app)
        ready()
        boot = wd.js("return [window.__dglabBootShownAt, window.__dglabReadyAt]")
        assert boot[0] is not None and boot[0] <= boot[1], boot
        # The words the start-up state carried (boot.js fills them before the backend answers).
        said = wd.js("return document.querySelector('#startup').textContent")
        # In the language of the last run (remembered in the page's storage; test_app.py
        # may have left Chinese), so either wording; now English is remembered for next time.
        assert said in ("Starting the relay…", "正在启动中继服务…"), said
        prefs = wd.js("return JSON.parse(localStorage.getItem('dglab.prefs'))")
        assert prefs == {"language": "en", "theme": "dark"}, prefs
        assert wd.js("return getComputedStyle(document.querySelector('#startup')).display") == "none"
        # The bad preset is named where the presets are, and stays said.
        msg = wd.text("#preset-message")
        assert "Broken one" in msg and "Good" not in msg, msg
        print(f"    start-up state shown at {boot[0]:.0f} ms, window ready at {boot[1]:.0f} ms")

    @step("the default window fits 1366×768; STOP, pairing status, both channels and the binding table need no scrolling")
    def _():
        r = wd.s("GET", "/window/rect")
        # The title bar (~37 px) and a desktop panel (~32 px) must fit too.
        assert r["width"] <= SCREEN[0] and r["height"] <= SCREEN[1] - 69, r
        vh = wd.js("return window.innerHeight")
        for css in ["#estop", "#pairing-status", "#strength-a", "#strength-b", "#cap-b", ".connection-table table", "#connections-body"]:
            box = rect(css)
            assert box["h"] > 0 or css == "#connections-body", (css, box)
            assert box["bottom"] <= vh, f"{css} ends at {box['bottom']} below the fold at {vh} ({r})"
        print(f"    window {r['width']}×{r['height']}, viewport height {vh}")

    @step("a lasting pairing status near STOP: not connected, connected, not connected")
    def _():
        status = status_text()
        assert status.startswith("Phone not connected"), status
        url = wait_for("the pairing URL", lambda: (lambda u: u if "DGLAB-SOCKET" in u else None)(wd.text("#pairing-url")))
        hostport, terminal = url.split("#")[2][len("ws://"):].split("/")
        port = int(hostport.rsplit(":", 1)[1])
        ctx.update(port=port)
        app = FakeApp(f"ws://127.0.0.1:{port}/{terminal}")
        app.bind()
        wait_for("connected", lambda: status_text().startswith("Phone connected"))
        assert wd.js("return document.querySelector('#pairing-status').dataset.state") == "connected"
        time.sleep(11)  # notices fade after 10 s; the status must not
        assert status_text().startswith("Phone connected")
        app.close()
        wait_for("not connected again", lambda: status_text().startswith("Phone not connected"))

    @step("status lines reserve their space: messages come and go without moving the controls below")
    def _():
        # Page coordinates: clicking a control may scroll the page, which is not a jump.
        def page_y(css):
            return wd.js("return document.querySelector(arguments[0]).getBoundingClientRect().top + window.scrollY", css)
        watch = ["#connections-body", ".connection-table", "#wave-bars", "#play", "#preset-save-as", "#manual-apply", ".feedback-list"]
        before = {c: page_y(c) for c in watch}
        wd.click("#strength-a-up")  # no phone: the strength panel says so
        wait_for("the strength message", lambda: wd.text("#strength-message"))
        wd.type_into("#manual-host", "http://example.org")
        wd.click("#manual-apply")
        wait_for("the address refusal", lambda: wd.text("#qr-error"))
        wd.type_into("#wave-rest", "300")
        wd.press("\ue007")
        wait_for("the rest refusal", lambda: wd.text("#wave-error"))
        after = {c: page_y(c) for c in watch}
        moved = {c: (before[c], after[c]) for c in watch if abs(before[c] - after[c]) > 0.5}
        assert not moved, f"moved: {moved}"

    @step("number fields refuse a bad value in words and show the value in force")
    def _():
        assert wd.text("#wave-error") == "Enter a whole number from 0 to 100; 0 stays in force.", wd.text("#wave-error")
        assert wd.js("return document.querySelector('#wave-rest').value") == "0"
        wd.type_into("#wave-rest", "35")
        wd.press("\ue007")
        wait_for("the rest hint", lambda: wd.text("#wave-rest-hint") == "= 0.4 s")
        # Settings: no English browser bubble; the refusal is the window's own words.
        wd.click("#open-settings")
        wait_for("settings", lambda: wd.js("return document.querySelector('.settings-dialog').open"))
        wd.type_into("#settings-port", "70000")
        wd.click("#settings-save")
        msg = wait_for("the port refusal", lambda: wd.text("#settings-message"))
        assert msg.startswith("Relay port: Enter a whole number from 1 to 65535"), msg
        assert wd.js("return document.querySelector('#settings-port').value") != "70000"

    @step("the settings show the recent log and offer to open the log folder")
    def _():
        wd.click("#recent-log-box summary")
        log = wait_for("the recent log", lambda: (lambda t: t if "relay listening" in t else None)(wd.text("#recent-log")))
        assert len(log.splitlines()) <= 40, len(log.splitlines())
        assert wd.text("#open-log-folder") == "Open log folder"
        wd.click("#settings-close")

    @step("Copy share string and the URL's Copy put the text on the system clipboard")
    def _():
        wd.click("#export-share")
        share = wait_for("the share string", lambda: wd.js("return document.querySelector('#import-text').value"))
        assert share.startswith("Dungeonlab+pulse:"), share
        got = wait_for("the clipboard", lambda: (lambda c: c if c == share else None)(clipboard()), timeout=5)
        assert got == share
        wd.click("#copy-url")
        url = wd.text("#pairing-url")
        wait_for("the URL on the clipboard", lambda: clipboard() == url, timeout=5)
        print(f"    clipboard held {share[:40]}… then the pairing URL")

    @step("a bad preset entry is set aside alone and named; the user's presets stay, apart from the built-ins")
    def _():
        mine = wd.js("return Array.from(document.querySelectorAll('#preset-list-mine li'), li => li.dataset.name)")
        assert mine == ["Good one", "Good two"], mine
        builtins = wd.js("return Array.from(document.querySelectorAll('#preset-list-builtin li'), li => li.dataset.name)")
        assert "呼吸" in builtins and "Good one" not in builtins, builtins
        names = wd.js("return Array.from(document.querySelectorAll('#preset-list-builtin .preset-panel__load'), b => b.textContent)")
        assert names[0] == "Breath" and not any("\u4e00" <= ch <= "\u9fff" for n in names for ch in n), names
        rejected = [n for n in os.listdir(data_dir) if n.startswith("presets.json.rejected-")]
        assert len(rejected) == 1, os.listdir(data_dir)

    @step("a new preset is scrolled into view; rename and delete replace the old “Saved …”")
    def _():
        for i in range(6):
            wd.click("#preset-save-as")
            wait_for("the name dialog", lambda: wd.js("return document.querySelector('.confirm-dialog').open"))
            wd.type_into("#confirm-input", f"Mine {i}")
            wd.click("#confirm-ok")
            wait_for("saved", lambda: wd.text("#preset-message") == f"Saved “Mine {i}”.")
        visible = wd.js(
            "const li = document.querySelector('#preset-list li[data-name=\"Mine 5\"]');"
            "const box = document.querySelector('#preset-list').getBoundingClientRect();"
            "const r = li.getBoundingClientRect();"
            "return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;")
        assert visible, "the new preset is out of sight"
        wd.click("#preset-rename")
        wait_for("the name dialog", lambda: wd.js("return document.querySelector('.confirm-dialog').open"))
        wd.type_into("#confirm-input", "Mine renamed")
        wd.click("#confirm-ok")
        wait_for("renamed", lambda: wd.text("#preset-message") == "Renamed to “Mine renamed”.")
        wd.click("#preset-delete")
        wait_for("the confirm dialog", lambda: wd.js("return document.querySelector('.confirm-dialog').open"))
        wd.click("#confirm-ok")
        wait_for("deleted", lambda: wd.text("#preset-message") == "Deleted “Mine renamed”.")

    @step("the frequency reads like the App: a period in ms, bigger = slower, the rate as a hint; tooltips")
    def _():
        opts = wd.js("return Array.from(document.querySelectorAll('#wave-freq-a option'), o => o.textContent)")
        assert opts[0] == "10 ms · 100 Hz" and opts[-1] == "1000 ms · 1 Hz", (opts[0], opts[-1])
        label = wd.js("return document.querySelector('#wave-freq-a').closest('label').textContent")
        assert "Frequency A (ms)" in label, label
        for css in ["#wave-freq-a", "#wave-rest", "#wave-rate", "#wave-anchor"]:
            tip = wd.js("return arguments[0] ? document.querySelector(arguments[0]).closest('label').title : ''", css)
            assert len(tip) > 20, (css, tip)

    @step("dark theme at 1366×768: screenshot (English)")
    def _():
        resize(*SCREEN)
        shoot("window-en-dark.png")

    @step("light theme: the window and its dropdown options turn light at once (English screenshot)")
    def _():
        wd.click("#open-settings")
        wait_for("settings", lambda: wd.js("return document.querySelector('.settings-dialog').open"))
        wd.js("document.querySelector('#settings-theme').value = 'light';")
        wd.click("#settings-save")
        wait_for("light", lambda: wd.js("return document.documentElement.dataset.theme") == "light")
        wd.click("#settings-close")
        bg = wd.js("return getComputedStyle(document.body).backgroundColor")
        opt = wd.js("const o = document.querySelector('#wave-freq-a option'); const s = getComputedStyle(o); return [s.backgroundColor, s.color];")
        assert bg == "rgb(238, 240, 245)", bg
        assert opt == ["rgb(255, 255, 255)", "rgb(26, 29, 41)"], opt
        assert settings()["theme"] == "light"
        # The native side too (GTK: menus and <select> popups), through Tauri's window theme.
        native = wd.js_async("const done = arguments[arguments.length - 1];"
                             "window.__TAURI__.window.getCurrentWindow().theme().then(done, (e) => done('error: ' + e));")
        assert native == "light", native
        shoot("window-en-light.png")

    @step("switching to Chinese keeps the unsaved waveform edits; every string Chinese, 内置 not clipped")
    def _():
        wd.click("#preset-list li[data-name='呼吸'] .preset-panel__load")
        wait_for("Breath loaded", lambda: wd.text("#preset-current") == "Editing: Breath")
        # As typed over a selection (WebDriver's clear would first commit an empty field).
        wd.js("const r = document.querySelector('#wave-rest'); r.value = '55'; r.dispatchEvent(new Event('change'));")
        wait_for("dirty", lambda: wd.text("#preset-current").endswith("*"))
        wd.click("#open-settings")
        wait_for("settings", lambda: wd.js("return document.querySelector('.settings-dialog').open"))
        wd.js("document.querySelector('#settings-language').value = 'zh';")
        wd.click("#settings-save")
        wait_for("the Chinese window", lambda: wd.text("#estop") == "急停", timeout=15)
        ready()
        assert wd.js("return document.querySelector('#wave-rest').value") == "55"
        assert wd.text("#preset-current").endswith("*"), wd.text("#preset-current")
        assert wd.text("#preset-message").endswith("未保存的修改已保留。"), wd.text("#preset-message")
        assert status_text().startswith("手机未连接"), status_text()
        assert wd.js("return document.querySelector('#wave-freq-a option').textContent") == "10 毫秒 · 100 Hz"
        clipped = wd.js(
            "return Array.from(document.querySelectorAll('.preset-panel__tag')).filter(t => {"
            " const r = t.getBoundingClientRect(), li = t.closest('li').getBoundingClientRect();"
            " return t.scrollWidth > t.clientWidth + 1 || r.right > li.right + 0.5; }).length")
        assert clipped == 0, f"{clipped} 内置 tags clipped"
        assert wd.js("return document.querySelector('.preset-panel__tag').textContent") == "内置"
        shoot("window-zh-light.png")

    @step("dark theme in Chinese: screenshot; the theme is kept for the next start")
    def _():
        wd.click("#open-settings")
        wait_for("settings", lambda: wd.js("return document.querySelector('.settings-dialog').open"))
        wd.js("document.querySelector('#settings-theme').value = 'dark';")
        wd.click("#settings-save")
        wait_for("dark", lambda: wd.js("return document.documentElement.dataset.theme") == "dark")
        wd.click("#settings-close")
        shoot("window-zh-dark.png")

    @step("a busy port: the window says why and the settings keep the fallback, so the QR stays the same at the next start")
    def _():
        wd.quit()
        import socket
        blocker = socket.socket()
        blocker.bind(("0.0.0.0", 0))
        blocker.listen(1)
        busy = blocker.getsockname()[1]
        ctx["blocker"] = blocker
        write_settings(port=busy, fallbackPort=None, language="en")
        wd.start(args.app)
        ready()
        notice = wait_for("the port notice", lambda: wd.text("#port-notice"))
        assert f"Port {busy} is busy" in notice and "keeps that port" in notice, notice
        fallback = settings()["fallbackPort"]
        assert fallback and fallback != busy, settings()
        url = wd.text("#pairing-url")
        assert f":{fallback}/" in url, (url, fallback)
        wd.quit()
        wd.start(args.app)
        ready()
        again = wait_for("the pairing URL", lambda: (lambda u: u if "DGLAB-SOCKET" in u else None)(wd.text("#pairing-url")))
        assert f":{fallback}/" in again, (again, fallback)
        print(f"    {notice!r}; the next start listens on {fallback} again")

    passed = failed = skipped = 0
    try:
        passed, failed, skipped = run_steps(results, wd, "target/e2e/failure-window.png")
    finally:
        wd.quit()
        if "blocker" in ctx:
            ctx["blocker"].close()
    print(f"e2e (window): {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
