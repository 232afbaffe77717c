#!/usr/bin/env python3
"""End-to-end: "Try without a phone" (issue 14 point 4) in the real window.

One click pairs the core's simulated App with the window's terminal through the relay's
socket; the binding table shows it paired; a built-in preset (the official 潮汐) played on
B is drawn frame for frame: the drawing's data (the canvas's data-frames, the frames the
simulated App played, in order) equals the official expansion in tests/data. Soft limits
and feedback buttons reach the window as a phone's would. Standard library only; the
WebDriver client comes from test_app.py.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_app import WebDriver, official, run_steps, wait_for  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--webdriver", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--screenshot", default="docs/window-virtual-app.png")
    args = ap.parse_args()

    wd = WebDriver(args.webdriver)
    ctx = {}
    results = []

    def step(name):
        def deco(fn):
            results.append((name, fn))
            return fn
        return deco

    def frames(ch):
        return json.loads(wd.js(f"return document.querySelector('#virtual-canvas-{ch}').dataset.frames"))

    @step("the window opens with a 'Try without a phone' button near the QR code")
    def _():
        wd.start(args.app)
        wait_for("the QR code", lambda: wd.js(
            "const u = document.querySelector('#pairing-url');"
            "return !!(u && u.textContent.includes('DGLAB-SOCKET'));"), timeout=15)
        wait_for("the button", lambda: wd.text("#virtual-start") == "Try without a phone")
        # Right under the pairing panel, in the same column.
        order = wd.js("const s = [...document.querySelector('.layout__side').children].map(e => e.classList[0]);"
                      "return [s.indexOf('qr-panel'), s.indexOf('virtual-app')];")
        assert order[1] == order[0] + 1, order
        ctx["terminal"] = wd.text("#pairing-url").rsplit("/", 1)[1]

    @step("one click pairs the simulated App: the binding table shows it paired with our terminal")
    def _():
        wd.click("#virtual-start")
        status = wait_for("the paired status", lambda: (lambda s: s if "paired" in s else None)(wd.text("#virtual-status")))
        app_id = wd.js("return document.querySelector('#virtual-panel').dataset.appId")
        assert status == f"Simulated App {app_id[:8]} paired", status

        def row():
            return wd.js(
                "const r = document.querySelector(`tr[data-id='${arguments[0]}']`);"
                "return r ? Array.from(r.children, c => c.textContent) : null;", app_id)
        cells = wait_for("the App's row", lambda: (lambda c: c if c and c[4] == ctx["terminal"][:8] else None)(row()))
        assert cells[1] == "App" and cells[2].startswith("127.0.0.1:"), cells
        ours = wd.js("const r = document.querySelector('tr.is-ours');"
                     "return r ? Array.from(r.children, c => c.textContent) : null;")
        assert ours[4] == app_id[:8], ours
        wait_for("the pairing status", lambda: wd.js("return document.querySelector('#pairing-status').dataset.state") == "connected")
        print(f"    simulated App {app_id[:8]} paired with terminal {ctx['terminal'][:8]}")

    @step("the simulated phone's soft limits reach the strength panel")
    def _():
        wd.type_into("#virtual-soft-a", "30")
        wd.type_into("#virtual-soft-b", "70")
        wd.click("#virtual-soft-apply")
        wait_for("soft limit A = 30", lambda: wd.text("#strength-a-limit") == "30")
        assert wd.text("#strength-b-limit") == "70"
        line = wait_for("B's line", lambda: (lambda s: s if "soft limit 70" in s else None)(wd.text("#virtual-line-b")))
        print(f"    {line!r}")

    @step("strength set in the window is what the simulated App plays at")
    def _():
        wd.js("const s = document.querySelector('#strength-b');"
              "for (let v = 1; v <= 12; v++) { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }"
              "s.dispatchEvent(new Event('change', {bubbles: true}));")
        wait_for("B at 12 on the simulated App", lambda: wd.text("#virtual-line-b").startswith("B: strength 12 "))
        wait_for("the App's report in the strength panel", lambda: wd.text("#strength-b-app") == "12")

    @step("the built-in preset 潮汐 played once on B is drawn frame for frame as expanded")
    def _():
        tide = official("潮汐")
        assert frames("b") == [] and frames("a") == [], "nothing played before"
        load = "#preset-list li[data-name=\"潮汐\"] .preset-panel__load"
        # In view first: the preset list scrolls, and WebDriver cannot click a row it hides.
        wd.js("document.querySelector(arguments[0]).scrollIntoView({block: 'center'});", load)
        wd.click(load)
        want = f"{len(tide['expectedV3'])} frames"
        wait_for("the preview", lambda: want in wd.text("#wave-preview-text"))
        wd.js("document.querySelector('#play-channel').value = 'B'; document.querySelector('#play-repeat').value = 'once';")
        wd.click("#play")
        got = wait_for("every frame drawn", lambda: (lambda f: f if len(f) >= len(tide["expectedV3"]) else None)(frames("b")),
                       timeout=15)
        assert got == tide["expectedV3"], got
        assert frames("a") == [], "nothing played on A"
        wait_for("finished", lambda: "finished" in wd.text("#play-progress-b"), timeout=6)
        time.sleep(0.5)
        assert frames("b") == tide["expectedV3"], "once means once"
        drawn = wd.js("const c = document.querySelector('#virtual-canvas-b');"
                      "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                      "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;")
        assert drawn > 0, "the canvas has a drawing"
        print(f"    the simulated App played {len(got)} frames equal to the official expansion of 潮汐 "
              f"({drawn} pixels drawn)")

    @step("a feedback button on the simulated phone shows in the feedback list")
    def _():
        wd.click(".virtual-app__fb[data-button='7']")
        wait_for("a feedback row", lambda: wd.js("return document.querySelectorAll('#feedback-items li').length") == 1)
        li = wd.js("const li = document.querySelector('#feedback-items li'); return [li.dataset.channel, li.dataset.index];")
        assert li == ["B", "7"], li

    @step("screenshot")
    def _():
        # The panel in view for the picture.
        wd.js("document.querySelector('.virtual-app').scrollIntoView({block: 'center'});")
        time.sleep(0.3)
        wd.screenshot(args.screenshot)
        print(f"    {args.screenshot}")

    @step("Disconnect frees the terminal: the table shows no App")
    def _():
        wd.click("#virtual-stop")
        wait_for("the button again", lambda: wd.js("return !document.querySelector('#virtual-start').hidden"))
        wait_for("no App row", lambda: wd.js("return document.querySelectorAll('tr[data-role=\"app\"]').length") == 0)
        assert wd.js("return document.querySelector('tr.is-ours').children[4].textContent") == "—"
        wait_for("the pairing status", lambda: wd.js("return document.querySelector('#pairing-status').dataset.state") == "not-connected")

    passed = failed = skipped = 0
    try:
        passed, failed, skipped = run_steps(results, wd, "target/e2e/failure-virtual.png")
    finally:
        wd.quit()
    print(f"e2e virtual: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
