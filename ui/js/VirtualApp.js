// "Try without a phone": one click pairs a simulated DG-LAB App (the core's virtual_app) with
// this window's terminal through the relay's real socket. The shell sends what the App does
// as numbers, ~10 times a second; this file only draws them. Per channel: the strength
// (line, 0..200), and for each 25 ms quarter of the frames played, the intensity (bar,
// 0..100 %) and the frequency byte (dot, 10..240), over the last 10 seconds.

import { backend } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { t, words } from "./lib/i18n.js";

/** Ticks (100 ms each) across the drawing: 10 s. */
export const WINDOW_TICKS = 100;
/** Frames kept per channel in `data-frames` (what played, oldest first): one minute. */
const KEEP_FRAMES = 600;
/** The App's five button shapes, by position left to right (as FeedbackList draws them). */
const SHAPES = ["○", "△", "□", "☆", "⬡"];
const CHANNELS = ["A", "B"];

/** Where each tick of one channel goes on a canvas of `width` × `height`: the newest tick at
 *  the right edge. Returns, per tick, its quarters' bars and dots and the strength's y.
 *  Pure, so it can be checked without a canvas. */
export function layoutTicks(ticks, width, height) {
  if (ticks.length === 0) return [];
  const last = ticks[ticks.length - 1].at_ms;
  const span = WINDOW_TICKS * 100;
  const tickW = width / WINDOW_TICKS;
  const y = (v, max) => height - (v / max) * height;
  const out = [];
  for (const tk of ticks) {
    const x = width - ((last - tk.at_ms) / span) * width - tickW;
    if (x + tickW <= 0) continue; // wholly left of the canvas
    const quarters = (tk.intensity ?? []).map((inten, i) => ({
      x: x + (i * tickW) / 4,
      w: tickW / 4,
      barTop: y(inten, 100),
      freqY: y(tk.freq[i] - 10, 230),
    }));
    out.push({ x, w: tickW, strengthY: y(tk.strength, 200), quarters });
  }
  return out;
}

export class VirtualApp {
  /** @param limits the settings' ranges from the backend; `strength` is the App's 0..200 */
  constructor(el, limits) {
    this.el = el;
    this.range = limits.strength;
    this.ticks = { A: [], B: [] };
    this.frames = { A: [], B: [] };
    this.canvas = {};
    this.line = {};
    this.soft = {};
    this.shownSoft = {};
    const feedback = CHANNELS.map((ch, c) =>
      h(
        "div",
        { class: "virtual-app__buttons", "data-channel": ch },
        h("span", { class: "virtual-app__ch" }, ch),
        SHAPES.map((shape, i) =>
          h("button", { type: "button", class: "virtual-app__fb", "data-button": c * 5 + i, onclick: () => this.press(c * 5 + i) }, shape),
        ),
      ),
    );
    this.el.append(
      h("h2", {}, t("virtual.title")),
      (this.startBtn = h("button", { type: "button", id: "virtual-start", class: "primary", onclick: () => this.start() }, t("virtual.start"))),
      (this.hint = h("p", { class: "virtual-app__hint" }, t("virtual.hint"))),
      (this.panel = h(
        "div",
        { class: "virtual-app__panel", id: "virtual-panel", hidden: true },
        (this.status = h("p", { class: "virtual-app__status", id: "virtual-status", role: "status" })),
        CHANNELS.map((ch) =>
          h(
            "div",
            { class: "virtual-app__channel", "data-channel": ch },
            (this.line[ch] = h("p", { class: "virtual-app__line", id: `virtual-line-${ch.toLowerCase()}` })),
            (this.canvas[ch] = h("canvas", {
              class: "virtual-app__canvas",
              id: `virtual-canvas-${ch.toLowerCase()}`,
              "aria-label": t("virtual.canvas", { ch }),
              "data-frames": "[]",
            })),
          ),
        ),
        h("p", { class: "virtual-app__legend" }, t("virtual.legend")),
        h(
          "form",
          { class: "virtual-app__soft", onsubmit: (e) => this.applySoft(e) },
          h("span", {}, t("virtual.soft")),
          CHANNELS.map((ch) =>
            h(
              "label",
              {},
              ch + " ",
              (this.soft[ch] = h("input", { type: "number", id: `virtual-soft-${ch.toLowerCase()}`, min: this.range.min, max: this.range.max, step: 1, value: 100 })),
            ),
          ),
          h("button", { type: "submit", id: "virtual-soft-apply" }, t("virtual.apply")),
        ),
        h("p", { class: "virtual-app__legend" }, t("virtual.feedback")),
        feedback,
        h("button", { type: "button", id: "virtual-stop", onclick: () => this.stop() }, t("virtual.stop")),
      )),
      (this.error = h("p", { class: "virtual-app__error", id: "virtual-error", role: "alert" })),
    );
    backend.onVirtualApp((u) => this.update(u));
    backend.virtualAppState().then((u) => this.update(u), (e) => setText(this.error, words(e)));
    // Redraw at the canvas's real size when the column changes width.
    new ResizeObserver(() => this.draw()).observe(this.panel);
  }

  async run(promise) {
    try {
      this.update(await promise);
      setText(this.error, "");
    } catch (e) {
      setText(this.error, words(e));
    }
  }

  start() {
    this.ticks = { A: [], B: [] };
    this.frames = { A: [], B: [] };
    this.run(backend.startVirtualApp(this.limit("A"), this.limit("B")));
  }

  stop() {
    this.run(backend.stopVirtualApp());
  }

  limit(ch) {
    const v = Number(this.soft[ch].value);
    return Number.isInteger(v) && v >= this.range.min && v <= this.range.max ? v : this.range.max;
  }

  applySoft(e) {
    e.preventDefault();
    this.run(backend.setVirtualSoftLimits(this.limit("A"), this.limit("B")));
  }

  async press(button) {
    try {
      await backend.pressVirtualFeedback(button);
    } catch (e) {
      setText(this.error, words(e));
    }
  }

  /** An update from the shell: state, and new ticks (or the last minute of them). */
  update(u) {
    for (const tk of u.ticks) {
      const list = this.ticks[tk.channel];
      if (list.length && list[list.length - 1].at_ms >= tk.at_ms) continue; // already drawn
      list.push(tk);
      if (list.length > WINDOW_TICKS) list.splice(0, list.length - WINDOW_TICKS);
      if (tk.hex) {
        const f = this.frames[tk.channel];
        f.push(tk.hex);
        if (f.length > KEEP_FRAMES) f.splice(0, f.length - KEEP_FRAMES);
      }
    }
    this.startBtn.hidden = u.running;
    this.hint.hidden = u.running;
    this.panel.hidden = !u.running && !u.ended;
    const s = u.state;
    if (s) {
      this.panel.dataset.appId = s.app_id;
      setText(this.status, u.running ? t("virtual.paired", { id: s.app_id.slice(0, 8) }) : t("virtual.ended"));
      for (const ch of CHANNELS) {
        const c = s[ch.toLowerCase()];
        const parts = [t("virtual.channel", { ch, strength: c.strength, soft: c.soft_limit, queued: c.queued })];
        if (c.dropped) parts.push(t("virtual.dropped", { n: c.dropped }));
        setText(this.line[ch], parts.join(" · "));
        // Only when the App's limit changed: an update must not undo what the user is typing.
        if (this.shownSoft[ch] !== c.soft_limit) this.soft[ch].value = this.shownSoft[ch] = c.soft_limit;
      }
    }
    for (const ch of CHANNELS) this.canvas[ch].dataset.frames = JSON.stringify(this.frames[ch]);
    this.draw();
  }

  draw() {
    if (this.panel.hidden) return;
    const css = getComputedStyle(this.el);
    for (const ch of CHANNELS) {
      const cv = this.canvas[ch];
      const ratio = window.devicePixelRatio || 1;
      const width = cv.clientWidth;
      const height = cv.clientHeight;
      if (!width || !height) continue;
      if (cv.width !== Math.round(width * ratio)) cv.width = Math.round(width * ratio);
      if (cv.height !== Math.round(height * ratio)) cv.height = Math.round(height * ratio);
      const g = cv.getContext("2d");
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.clearRect(0, 0, width, height);
      const color = css.getPropertyValue(ch === "A" ? "--a" : "--b").trim() || "#888";
      const text = css.getPropertyValue("--text").trim() || "#ccc";
      const ticks = layoutTicks(this.ticks[ch], width, height);
      g.globalAlpha = 0.55;
      g.fillStyle = color;
      for (const tk of ticks) for (const q of tk.quarters) g.fillRect(q.x, q.barTop, Math.max(q.w - 0.3, 0.5), height - q.barTop);
      g.globalAlpha = 1;
      g.fillStyle = text;
      for (const tk of ticks) for (const q of tk.quarters) g.fillRect(q.x + q.w / 2 - 0.75, q.freqY - 0.75, 1.5, 1.5);
      g.strokeStyle = color;
      g.lineWidth = 1.5;
      g.beginPath();
      ticks.forEach((tk, i) => {
        if (i === 0) g.moveTo(tk.x, tk.strengthY);
        else g.lineTo(tk.x, tk.strengthY);
        g.lineTo(tk.x + tk.w, tk.strengthY);
      });
      g.stroke();
    }
  }
}
