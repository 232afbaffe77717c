// Strength per channel: a 0..200 slider setting absolute strength (throttled while dragging,
// the last value always sent), ±1 buttons, and what the App reports back.

import { backend, errorText } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { createThrottle } from "./lib/throttle.js";
import { formatStrength } from "./lib/format.js";

/** Smallest gap between two strength commands while dragging. */
const SEND_INTERVAL_MS = 80;

class ChannelControl {
  constructor(channel, onError) {
    this.channel = channel;
    const send = (v) => backend.setStrength(channel, v).catch(onError);
    this.throttle = createThrottle(send, SEND_INTERVAL_MS);
    const id = channel.toLowerCase();
    this.el = h(
      "div",
      { class: "strength-sliders__channel", "data-channel": channel },
      h("h3", {}, `Channel ${channel}`),
      h(
        "div",
        { class: "strength-sliders__row" },
        h("button", { type: "button", class: "strength-sliders__step", id: `strength-${id}-down`, title: "−1", onclick: () => this.step("down") }, "−"),
        (this.slider = h("input", {
          type: "range",
          id: `strength-${id}`,
          min: "0",
          max: "200",
          step: "1",
          value: "0",
          "aria-label": `Channel ${channel} strength`,
          oninput: () => this.onInput(),
          onchange: () => this.throttle.flush(),
        })),
        h("button", { type: "button", class: "strength-sliders__step", id: `strength-${id}-up`, title: "+1", onclick: () => this.step("up") }, "+"),
        (this.requested = h("output", { class: "strength-sliders__value", id: `strength-${id}-requested` }, "0")),
      ),
      h(
        "p",
        { class: "strength-sliders__report" },
        "App: ",
        (this.reported = h("strong", { id: `strength-${id}-app` }, "—")),
        " · soft limit ",
        (this.limit = h("strong", { id: `strength-${id}-limit` }, "—")),
      ),
    );
  }

  onInput() {
    const v = Number(this.slider.value);
    setText(this.requested, v);
    this.throttle.push(v);
  }

  step(direction) {
    this.onStep?.(this.channel, direction);
  }

  showReport(value, limit) {
    setText(this.reported, formatStrength(value));
    setText(this.limit, formatStrength(limit));
  }

  /** After an emergency stop: nothing queued may go out, and the slider shows 0. */
  reset() {
    this.throttle.cancel();
    this.slider.value = "0";
    setText(this.requested, "0");
  }

  setDisabled(disabled) {
    for (const el of this.el.querySelectorAll("input, button")) el.disabled = disabled;
  }
}

export class StrengthSliders {
  constructor(el) {
    this.el = el;
    const onError = (e) => setText(this.message, errorText(e));
    this.channels = { A: new ChannelControl("A", onError), B: new ChannelControl("B", onError) };
    for (const c of Object.values(this.channels)) {
      c.onStep = (ch, dir) => backend.stepStrength(ch, dir).catch(onError);
    }
    this.el.append(
      h("h2", {}, "Strength"),
      h("div", { class: "strength-sliders__channels" }, this.channels.A.el, this.channels.B.el),
      (this.message = h("p", { class: "strength-sliders__message", id: "strength-message", role: "status" })),
    );
    backend.onTerminal((ev) => this.onTerminal(ev));
    backend.onEstop(({ stopped }) => this.setStopped(stopped));
    backend.terminalStatus().then((s) => {
      if (s.report) this.showReport(s.report);
      this.setStopped(s.stopped);
    });
  }

  onTerminal(ev) {
    if (ev.kind === "strength") {
      this.showReport(ev);
      setText(this.message, "");
    } else if (ev.kind === "paired") {
      setText(this.message, "");
    } else if (ev.kind === "app_left") {
      this.channels.A.showReport(null, null);
      this.channels.B.showReport(null, null);
      setText(this.message, "The phone left. Scan the same QR code to pair again.");
    }
  }

  showReport(r) {
    this.channels.A.showReport(r.a, r.limit_a);
    this.channels.B.showReport(r.b, r.limit_b);
  }

  setStopped(stopped) {
    for (const c of Object.values(this.channels)) {
      if (stopped) c.reset();
      c.setDisabled(stopped);
    }
  }
}
