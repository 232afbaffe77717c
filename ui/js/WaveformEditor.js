// The waveform editor: the App's pattern model (sections with frequencies — the App's
// value, a pulse period in ms — duration,
// mode, enabled; intensity points as bars dragged on a canvas; anchors), a live preview of
// the expanded frames from the core, playback on A, B or both, once or looped, and
// undo/redo. The core validates, expands and decodes, and gives the model's tables and
// limits (`limits`, from `pattern_limits`); this file only edits the model and draws.

import { backend } from "./backend.js";
import { h, options, setText } from "./lib/dom.js";
import { barAt, barLayout, framesToSlots, valueForY, yForValue } from "./lib/canvas-geometry.js";
import { createHistory } from "./lib/history.js";
import * as edit from "./lib/pattern-edit.js";
import { periodOption, restSeconds, tenthsToSeconds } from "./lib/format.js";
import { bindNumberField } from "./lib/number-field.js";
import { t, words } from "./lib/i18n.js";

const PREVIEW_DELAY_MS = 60;

export class WaveformEditor {
  constructor(el, limits) {
    this.el = el;
    this.limits = limits;
    this.history = createHistory(edit.newPattern(limits));
    this.pattern = this.history.current;
    this.section = 0;
    this.point = 0;
    this.drag = null;
    this.expansion = null;
    this.onChange = null; // set by the preset panel: called after every edit

    // As in the App: the value is the pulse period in ms (bigger = slower); the rate is a hint.
    const freqOpts = limits.freq.map((ms, i) => [i, t("wave.freqOption", periodOption(ms))]);
    const durOpts = limits.duration.map((d, i) => [i, t("unit.seconds", { n: tenthsToSeconds(d) })]);
    const field = (label, input, tip, after) =>
      h("label", { class: "waveform-editor__field", title: tip ?? false }, h("span", tip ? { "data-tip": "" } : {}, label), input, after ?? null);

    this.el.append(
      h(
        "div",
        { class: "waveform-editor__toolbar" },
        h("h2", {}, t("wave.title")),
        (this.undoBtn = h("button", { type: "button", id: "wave-undo", onclick: () => this.undo() }, t("wave.undo"))),
        (this.redoBtn = h("button", { type: "button", id: "wave-redo", onclick: () => this.redo() }, t("wave.redo"))),
        field(t("wave.rest"), (this.rest = h("input", { type: "number", id: "wave-rest" })), t("tip.rest"), (this.restHint = h("span", { class: "field-hint", id: "wave-rest-hint" }))),
        field(t("wave.rate"), (this.rate = h("select", { id: "wave-rate", onchange: () => this.apply(edit.setHeaderField(this.pattern, "playRate", Number(this.rate.value))) }, ...options(limits.play_rates.map((r) => [r, `×${r}`])))), t("tip.rate")),
      ),
      (this.tabs = h("div", { class: "waveform-editor__tabs", role: "tablist" })),
      h(
        "div",
        { class: "waveform-editor__section" },
        field(t("wave.freqA"), (this.freqA = h("select", { id: "wave-freq-a", onchange: () => this.setField("freqA", Number(this.freqA.value)) }, ...options(freqOpts))), t("tip.freq")),
        field(t("wave.freqB"), (this.freqB = h("select", { id: "wave-freq-b", onchange: () => this.setField("freqB", Number(this.freqB.value)) }, ...options(freqOpts))), t("tip.freq")),
        field(t("wave.duration"), (this.duration = h("select", { id: "wave-duration", onchange: () => this.setField("duration", Number(this.duration.value)) }, ...options(durOpts))), t("tip.duration")),
        field(t("wave.mode"), (this.mode = h("select", { id: "wave-mode", onchange: () => this.setField("mode", this.mode.value) }, ...options(limits.modes.map((m) => [m, t(`wave.mode.${m}`)])))), t("tip.mode")),
        h("label", { class: "waveform-editor__check" }, (this.enabled = h("input", { type: "checkbox", id: "wave-enabled", onchange: () => this.setField("enabled", this.enabled.checked) })), " " + t("wave.enabled")),
        h("button", { type: "button", id: "wave-remove-section", onclick: () => this.removeSection() }, t("wave.removeSection")),
      ),
      (this.bars = h("canvas", { class: "waveform-editor__bars", id: "wave-bars", "aria-label": t("wave.barsLabel") })),
      h(
        "div",
        { class: "waveform-editor__points" },
        h("button", { type: "button", id: "wave-add-point", onclick: () => this.addPoint() }, t("wave.addPoint")),
        h("button", { type: "button", id: "wave-remove-point", onclick: () => this.removePoint() }, t("wave.removePoint")),
        h("label", { class: "waveform-editor__check", title: t("tip.anchor") }, (this.anchor = h("input", { type: "checkbox", id: "wave-anchor", onchange: () => this.apply(edit.toggleAnchor(this.pattern, this.section, this.point)) })), h("span", { "data-tip": "" }, t("wave.anchor"))),
        (this.pointLabel = h("span", { class: "waveform-editor__point-label", id: "wave-point-label" })),
      ),
      (this.preview = h("canvas", { class: "waveform-editor__preview", id: "wave-preview", "aria-label": t("wave.previewLabel") })),
      (this.previewText = h("p", { class: "waveform-editor__preview-text", id: "wave-preview-text" })),
      h(
        "div",
        { class: "waveform-editor__play" },
        (this.channelSel = h("select", { id: "play-channel" }, ...options([["A", "A"], ["B", "B"], ["AB", t("wave.both")]], "A"))),
        (this.repeatSel = h("select", { id: "play-repeat" }, ...options([["once", t("wave.once")], ["loop", t("wave.loop")]], "loop"))),
        h("button", { type: "button", id: "play", class: "primary", onclick: () => this.play() }, "▶ " + t("wave.play")),
        h("button", { type: "button", id: "play-stop", onclick: () => this.stop() }, "■ " + t("wave.stop")),
        (this.progressA = h("span", { class: "waveform-editor__progress", id: "play-progress-a" })),
        (this.progressB = h("span", { class: "waveform-editor__progress", id: "play-progress-b" })),
      ),
      (this.error = h("p", { class: "waveform-editor__error", id: "wave-error", role: "alert" })),
    );

    bindNumberField(this.rest, {
      range: limits.rest,
      current: () => this.pattern.rest,
      apply: (v) => this.apply(edit.setHeaderField(this.pattern, "rest", v)),
      message: this.error,
    });
    this.bars.addEventListener("pointerdown", (e) => this.pointerDown(e));
    this.bars.addEventListener("pointermove", (e) => this.pointerMove(e));
    this.bars.addEventListener("pointerup", (e) => this.pointerUp(e));
    this.bars.addEventListener("pointercancel", (e) => this.pointerUp(e));
    document.addEventListener("keydown", (e) => this.onKey(e));
    new ResizeObserver(() => this.draw()).observe(this.bars);
    backend.onPlayer((p) => this.showProgress(p));
    this.render();
  }

  /** Replaces the pattern (a preset was loaded or imported): a fresh history. */
  load(pattern) {
    this.history.reset(pattern);
    this.pattern = this.history.current;
    this.section = 0;
    this.point = 0;
    this.render();
  }

  /** Records an edit as one undo step. */
  apply(next) {
    if (this.history.push(next)) {
      this.pattern = this.history.current;
      this.onChange?.();
    }
    this.render();
  }

  undo() {
    const p = this.history.undo();
    if (p) {
      this.pattern = p;
      this.onChange?.();
      this.render();
    }
  }

  redo() {
    const p = this.history.redo();
    if (p) {
      this.pattern = p;
      this.onChange?.();
      this.render();
    }
  }

  onKey(e) {
    if (!(e.ctrlKey || e.metaKey) || e.target.matches?.("input[type=text], textarea")) return;
    const k = e.key.toLowerCase();
    if (k === "z" && !e.shiftKey) this.undo();
    else if (k === "y" || (k === "z" && e.shiftKey)) this.redo();
    else return;
    e.preventDefault();
  }

  setField(field, value) {
    this.apply(edit.setSectionField(this.pattern, this.section, field, value));
  }

  addPoint() {
    this.apply(edit.addPoint(this.pattern, this.section, this.point, this.limits));
    this.point = Math.min(this.point + 1, this.pattern.sections[this.section].points.length - 1);
    this.render();
  }

  removePoint() {
    this.apply(edit.removePoint(this.pattern, this.section, this.point));
  }

  removeSection() {
    this.apply(edit.removeSection(this.pattern, this.section));
  }

  selectSection(i) {
    this.section = i;
    this.point = 0;
    this.render();
  }

  // Dragging paints: each bar under the pointer takes the pointer's height. The whole drag
  // is one undo step, recorded on release.
  pointerDown(e) {
    this.bars.setPointerCapture(e.pointerId);
    this.drag = { pattern: this.pattern };
    this.pointerMove(e);
  }

  pointerMove(e) {
    if (!this.drag) return;
    const { x, y, height } = this.canvasPoint(e);
    const pts = this.drag.pattern.sections[this.section].points;
    const i = barAt(x, barLayout(pts.length, this.bars.clientWidth, height));
    if (i < 0) return;
    this.point = i;
    this.drag.pattern = edit.setPointValue(this.drag.pattern, this.section, i, valueForY(y, height, this.limits.point_value.max), this.limits);
    this.pattern = this.drag.pattern;
    this.draw();
    this.showPoint();
  }

  pointerUp() {
    if (!this.drag) return;
    const next = this.drag.pattern;
    this.drag = null;
    this.pattern = this.history.current;
    this.apply(next);
  }

  canvasPoint(e) {
    const r = this.bars.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top, height: this.bars.clientHeight };
  }

  render() {
    const p = this.pattern;
    this.section = Math.min(this.section, p.sections.length - 1);
    const s = p.sections[this.section];
    this.point = Math.min(this.point, s.points.length - 1);
    this.rest.value = String(p.rest);
    setText(this.restHint, t("wave.restSeconds", { n: restSeconds(p.rest) }));
    this.rate.value = String(p.playRate);
    const tabs = p.sections.map((sec, i) =>
      h("button", { type: "button", role: "tab", class: `waveform-editor__tab${i === this.section ? " is-selected" : ""}${sec.enabled ? "" : " is-off"}`, "data-section": i, onclick: () => this.selectSection(i) }, t("wave.section", { n: i + 1 })),
    );
    tabs.push(h("button", { type: "button", id: "wave-add-section", onclick: () => this.apply(edit.addSection(this.pattern, this.section, this.limits)), disabled: p.sections.length >= this.limits.max_sections }, t("wave.addSection")));
    this.tabs.replaceChildren(...tabs);
    this.freqA.value = String(s.freqA);
    this.freqB.value = String(s.freqB);
    this.freqB.disabled = s.mode === "fixed";
    this.duration.value = String(s.duration);
    this.mode.value = s.mode;
    this.enabled.checked = s.enabled;
    this.undoBtn.disabled = !this.history.canUndo;
    this.redoBtn.disabled = !this.history.canRedo;
    this.showPoint();
    this.draw();
    this.schedulePreview();
  }

  showPoint() {
    const pt = this.pattern.sections[this.section].points[this.point];
    this.anchor.checked = pt.anchor;
    setText(this.pointLabel, t("wave.point", { n: this.point + 1, value: pt.value }));
  }

  fit(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const hgt = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(hgt * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    return { ctx, w, h: hgt };
  }

  draw() {
    const { ctx, w, h: H } = this.fit(this.bars);
    const pts = this.pattern.sections[this.section].points;
    const layout = barLayout(pts.length, w, H);
    const max = this.limits.point_value.max;
    const css = getComputedStyle(document.documentElement);
    ctx.strokeStyle = css.getPropertyValue("--line");
    ctx.beginPath();
    ctx.moveTo(8, yForValue(max / 2, H, max) + 0.5);
    ctx.lineTo(w - 8, yForValue(max / 2, H, max) + 0.5);
    ctx.stroke();
    pts.forEach((pt, i) => {
      const b = layout[i];
      const top = yForValue(pt.value, H, max);
      ctx.fillStyle = i === this.point ? css.getPropertyValue("--b") : css.getPropertyValue("--a");
      ctx.fillRect(b.x, top, b.w, b.plotBottom - top);
      if (pt.anchor) {
        ctx.fillStyle = css.getPropertyValue("--text");
        ctx.beginPath();
        ctx.arc(b.x + b.w / 2, Math.max(top - 5, 5), Math.min(3, b.w / 2), 0, Math.PI * 2);
        ctx.fill();
      }
    });
    this.drawPreview();
  }

  schedulePreview() {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(async () => {
      try {
        this.expansion = await backend.expandPattern(this.pattern);
        setText(this.error, "");
        setText(this.previewText, t("wave.preview", { frames: this.expansion.frames.length, seconds: (this.expansion.duration_ms / 1000).toFixed(1) }));
      } catch (e) {
        this.expansion = null;
        setText(this.error, words(e));
      }
      this.drawPreview();
    }, PREVIEW_DELAY_MS);
  }

  drawPreview() {
    const { ctx, w, h: H } = this.fit(this.preview);
    if (!this.expansion) return;
    const slots = framesToSlots(this.expansion.frames);
    const { freq_byte: fb, intensity } = this.limits;
    const css = getComputedStyle(document.documentElement);
    const sw = (w - 16) / Math.max(1, slots.length);
    ctx.fillStyle = css.getPropertyValue("--a");
    slots.forEach((s, i) => {
      const top = yForValue(s.intensity, H, intensity.max);
      ctx.fillRect(8 + i * sw, top, Math.max(1, sw - (sw > 3 ? 1 : 0)), H - 8 - top);
    });
    // Frequency as a line over the bars (the core's byte range across the plot).
    ctx.strokeStyle = css.getPropertyValue("--b");
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    slots.forEach((s, i) => {
      const y = yForValue(s.freq - fb.min, H, fb.max - fb.min);
      if (i === 0) ctx.moveTo(8, y);
      ctx.lineTo(8 + (i + 1) * sw, y);
    });
    ctx.stroke();
  }

  channels() {
    return this.channelSel.value === "AB" ? ["A", "B"] : [this.channelSel.value];
  }

  async play() {
    try {
      await backend.playWaveform(this.channels(), this.pattern, this.repeatSel.value);
      setText(this.error, "");
    } catch (e) {
      setText(this.error, words(e));
    }
  }

  async stop() {
    try {
      await backend.stopWaveform(["A", "B"]);
    } catch (e) {
      setText(this.error, words(e));
    }
  }

  showProgress(p) {
    const el = p.channel === "A" ? this.progressA : this.progressB;
    const state = t(`wave.state.${p.state}`, { pos: p.position + 1, len: p.pass_frames, error: p.error ? words(p.error) : "" });
    setText(el, t("wave.progress", { ch: p.channel, state }));
    el.dataset.state = p.state;
  }
}
