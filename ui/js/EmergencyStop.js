// The emergency stop: a large button, the Escape key, the latched state with its re-arm
// action, and the window's heartbeat to the safety watchdog. The global shortcut lives in
// Rust; its stops arrive as the same safety events.

import { backend } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { shortcutLabel } from "./lib/format.js";
import { t, words } from "./lib/i18n.js";

/** Renewals per lease: one or two missed beats never trip the watchdog. */
const RENEWALS_PER_LEASE = 4;

export class EmergencyStop {
  /** @param {number|null} leaseMs the watchdog's lease from the backend (null: none) */
  constructor(el, leaseMs) {
    this.el = el;
    this.el.append(
      (this.button = h("button", { type: "button", class: "emergency-stop__button", id: "estop", onclick: () => this.stop() }, t("estop.button"))),
      h(
        "div",
        { class: "emergency-stop__info" },
        (this.state = h("p", { class: "emergency-stop__state", id: "estop-state", role: "status" })),
        (this.hint = h("p", { class: "emergency-stop__hint" })),
      ),
      (this.rearmBtn = h("button", { type: "button", class: "emergency-stop__rearm", id: "rearm", hidden: true, onclick: () => backend.rearm() }, t("estop.rearm"))),
    );
    this.setShortcuts([]);
    // Escape anywhere in the window stops, even while a slider, a field or a dialog has
    // focus (an open dialog still closes on it as usual).
    document.addEventListener(
      "keydown",
      (e) => {
        if (e.key === "Escape") this.stop();
      },
      true,
    );
    backend.onSafety((ev) => {
      if (ev.kind === "emergency_stop") this.update(true);
      else if (ev.kind === "rearmed") this.update(false);
      else if (ev.kind === "watchdog_tripped") setText(this.hint, words(ev));
    });
    backend.onStrength((s) => this.update(s.latched));
    backend.strengthState().then((s) => this.update(s.latched));
    if (leaseMs) {
      setInterval(() => backend.renewLease().catch(() => {}), leaseMs / RENEWALS_PER_LEASE);
      backend.renewLease().catch(() => {});
    }
  }

  setShortcuts(shortcuts) {
    const isMac = navigator.platform.startsWith("Mac");
    const keys = ["Esc", ...shortcuts.map((s) => shortcutLabel(s, isMac))].join(" · ");
    setText(this.hint, t("estop.keys", { keys }));
  }

  stop() {
    this.update(true); // show it at once; the safety event confirms
    document.dispatchEvent(new CustomEvent("emergencyStop"));
    backend.emergencyStop();
  }

  update(stopped) {
    document.body.classList.toggle("is-stopped", stopped);
    this.el.classList.toggle("is-stopped", stopped);
    this.rearmBtn.hidden = !stopped;
    setText(this.state, stopped ? t("estop.latched") : t("estop.armed"));
  }
}
