// Strength per channel: a 0..200 slider setting absolute strength (throttled while
// dragging, the last value always sent) with a mark at the user's cap, ±1 buttons, the
// App's real level as it reports it (next to the target and what was sent) and its soft
// limit, the user cap (saved), a "follow soft limit" toggle that asks the core gate (the
// gate does the following; it refuses while stopped and switches it off on any stop or
// pairing), and what the safety gate did.

import { backend } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { createThrottle } from "./lib/throttle.js";
import { formatStrength } from "./lib/format.js";
import { t, words } from "./lib/i18n.js";
import { bindNumberField } from "./lib/number-field.js";

/** Smallest gap between two strength commands while dragging. */
const SEND_INTERVAL_MS = 80;
/** Lines kept in the message area, and how long each stays. */
const MESSAGE_LINES = 3;
const MESSAGE_MS = 10000;
/** Gate decisions the panel does not announce: the stop button, the re-arm button and the
 *  cap fields already show them. */
const QUIET = new Set(["caps_changed", "emergency_stop", "rearmed", "lease_renewed"]);

class ChannelControl {
  constructor(channel, panel) {
    this.channel = channel;
    this.panel = panel;
    this.dragging = false;
    const send = (v) => backend.setStrength(channel, v).catch((e) => panel.say(words(e)));
    this.throttle = createThrottle(send, SEND_INTERVAL_MS);
    const id = channel.toLowerCase();
    this.el = h(
      "div",
      { class: "strength-sliders__channel", "data-channel": channel },
      h("h3", {}, t("strength.channel", { ch: channel })),
      h(
        "div",
        { class: "strength-sliders__row" },
        h("button", { type: "button", class: "strength-sliders__step", id: `strength-${id}-down`, title: "−1", onclick: () => this.step("down") }, "−"),
        h(
          "div",
          { class: "strength-sliders__track" },
          (this.slider = h("input", {
            type: "range", id: `strength-${id}`, min: String(panel.range.min), max: String(panel.range.max), step: "1", value: "0",
            "aria-label": t("strength.channel", { ch: channel }),
            oninput: () => this.onInput(),
            onchange: () => this.onRelease(),
          })),
          (this.capMark = h("span", { class: "strength-sliders__capmark", id: `strength-${id}-capmark`, "aria-hidden": "true" })),
        ),
        h("button", { type: "button", class: "strength-sliders__step", id: `strength-${id}-up`, title: "+1", onclick: () => this.step("up") }, "+"),
        (this.requested = h("output", { class: "strength-sliders__value", id: `strength-${id}-requested` }, "0")),
      ),
      (this.gate = h("p", { class: "strength-sliders__gate", id: `strength-${id}-gate` })),
      h(
        "p",
        { class: "strength-sliders__report" },
        t("strength.appNow") + ": ",
        (this.reported = h("strong", { class: "strength-sliders__app", id: `strength-${id}-app` }, "—")),
        ` · ${t("strength.softLimit")} `,
        (this.limit = h("strong", { id: `strength-${id}-limit` }, "—")),
      ),
      h(
        "div",
        { class: "strength-sliders__options" },
        h(
          "label",
          { title: t("tip.cap") },
          t("strength.cap") + " ",
          (this.cap = h("input", { type: "number", id: `cap-${id}`, class: "strength-sliders__cap" })),
        ),
        (this.followLabel = h(
          "label",
          { id: `follow-${id}-label`, title: t("strength.followHint") },
          (this.follow = h("input", { type: "checkbox", id: `follow-${id}`, onchange: () => this.setFollow() })),
          " " + t("strength.follow"),
        )),
      ),
      // A refused cap is said here, in words, and the field shows the cap in force again.
      (this.capMessage = h("p", { class: "input-message", id: `cap-${id}-message`, role: "status" })),
    );
    this.capInForce = undefined;
    bindNumberField(this.cap, {
      range: panel.range,
      current: () => this.capInForce ?? panel.range.min,
      apply: () => panel.saveCaps(),
      message: this.capMessage,
    });
  }

  onInput() {
    this.dragging = true;
    const v = Number(this.slider.value);
    setText(this.requested, v);
    this.throttle.push(v);
  }

  onRelease() {
    this.throttle.flush();
    this.dragging = false;
  }

  step(direction) {
    backend.stepStrength(this.channel, direction).catch((e) => this.panel.say(words(e)));
  }

  /** Asks the gate to follow (or not); the checkbox then shows what the gate says. */
  async setFollow() {
    const on = this.follow.checked;
    try {
      this.panel.update(await backend.setFollowSoftLimit(this.channel, on));
    } catch (e) {
      this.follow.checked = !on;
      this.panel.say(words(e));
    }
  }

  /** The gate's view of this channel: target, what was sent, ramping, following. */
  showGate(c, cap) {
    if (!this.dragging) {
      this.slider.value = String(c.target);
      setText(this.requested, c.target);
    }
    const text = t("strength.target", { target: c.target, level: c.level }) + (c.ramping ? ` · ${t("strength.ramping")}` : "");
    setText(this.gate, text);
    this.el.classList.toggle("is-ramping", c.ramping);
    this.capInForce = cap;
    if (document.activeElement !== this.cap) this.cap.value = String(cap);
    this.follow.checked = c.follow;
    const max = this.panel.range.max || 1;
    this.capMark.style.left = `${(Math.min(cap, max) / max) * 100}%`;
    this.capMark.title = t("strength.capMark", { cap });
    this.capMark.dataset.cap = String(cap);
  }

  /** The App's own report: its real level (what the box is at) and its soft limit. Shown
   *  apart from the target: a phone that came back high shows its level here until the gate
   *  has brought it down (the app_above_limit notice says so). */
  showReport(value, limit, ceiling) {
    setText(this.reported, formatStrength(value));
    setText(this.limit, formatStrength(limit));
    this.reported.classList.toggle("is-above", Number.isInteger(value) && value > ceiling);
  }

  /** After an emergency stop: nothing queued may go out, and the slider shows 0. */
  reset() {
    this.throttle.cancel();
    this.dragging = false;
    this.slider.value = "0";
    setText(this.requested, "0");
  }

  setDisabled(disabled) {
    for (const el of this.el.querySelectorAll(".strength-sliders__row input, .strength-sliders__row button")) el.disabled = disabled;
    // The gate refuses following while stopped; say why where the pointer is.
    this.follow.disabled = disabled;
    this.followLabel.title = disabled ? t("strength.followStopped") : t("strength.followHint");
  }
}

export class StrengthSliders {
  /** @param limits the settings' ranges from the backend; `strength` is the App's 0..200 */
  constructor(el, settings, limits) {
    this.el = el;
    this.settings = settings;
    this.range = limits.strength;
    this.channels = { A: new ChannelControl("A", this), B: new ChannelControl("B", this) };
    this.el.append(
      h("h2", {}, t("strength.title")),
      h("div", { class: "strength-sliders__channels" }, this.channels.A.el, this.channels.B.el),
      (this.message = h("p", { class: "strength-sliders__message", id: "strength-message", role: "status" })),
    );
    document.addEventListener("emergencyStop", () => this.setStopped(true));
    backend.onStrength((s) => this.update(s));
    // What the gate did arrives worded by kind: `{kind, params}` from the backend.
    backend.onSafety((notice) => {
      if (!QUIET.has(notice.kind)) this.say(words(notice));
      if (notice.kind === "emergency_stop") this.setStopped(true);
    });
    backend.onTerminal((ev) => {
      if (ev.kind === "app_left") this.say(t("strength.phoneLeft"));
    });
    backend.strengthState().then((s) => this.update(s));
  }

  /** Shows a line about what happened; a clamp and the ramp that follows it arrive
   *  together, so the last few lines stay (oldest first) and each goes after a while. */
  say(text) {
    if (!text) return;
    const line = h("span", { class: "strength-sliders__line" }, text);
    this.message.append(line);
    while (this.message.children.length > MESSAGE_LINES) this.message.firstChild.remove();
    setTimeout(() => line.remove(), MESSAGE_MS);
  }

  update(s) {
    this.setStopped(s.latched || s.lease_lapsed);
    const r = s.report;
    this.channels.A.showGate(s.channels[0], s.caps[0]);
    this.channels.B.showGate(s.channels[1], s.caps[1]);
    this.channels.A.showReport(r?.a, r?.limit_a, s.channels[0].ceiling);
    this.channels.B.showReport(r?.b, r?.limit_b, s.channels[1].ceiling);
  }

  /** Sends both caps (each field already checked by bindNumberField); a refusal is thrown
   *  so the field that changed words it and shows the cap in force again. */
  async saveCaps() {
    const field = (c) => (c.cap.getAttribute("aria-invalid") ? c.capInForce : Number(c.cap.value));
    this.update(await backend.setCaps(field(this.channels.A), field(this.channels.B)));
  }

  setStopped(stopped) {
    if (stopped === this.stopped) return;
    this.stopped = stopped;
    for (const c of Object.values(this.channels)) {
      if (stopped) c.reset();
      c.setDisabled(stopped);
    }
  }
}
