// The emergency stop: a large button, the Escape key, the latched state with its re-arm
// action, where the stop stands App by App (the shell's stop_status / safety:stop: waiting
// for the phone's 0, confirmed, left), and the window's heartbeat to the safety watchdog.
// The global shortcut lives in Rust; its stops arrive as the same safety events.
//
// Escape rule: with a dialog open, Escape closes that dialog (as Cancel) and does nothing
// else, so closing a dialog never latches a stop by surprise; with no dialog open, Escape
// stops. STOP itself stays clickable over any dialog (lib/dialog.js).

import { backend } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { cancelTopDialog } from "./lib/dialog.js";
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
        (this.apps = h("ul", { class: "emergency-stop__apps", id: "estop-apps", "aria-live": "polite" })),
        (this.hint = h("p", { class: "emergency-stop__hint" })),
      ),
      (this.rearmBtn = h("button", { type: "button", class: "emergency-stop__rearm", id: "rearm", hidden: true, onclick: () => backend.rearm() }, t("estop.rearm"))),
    );
    this.setShortcuts([]);
    // Escape anywhere in the window stops, even while a slider or a field has focus; with
    // a dialog open it only closes the dialog (the rule above).
    document.addEventListener(
      "keydown",
      (e) => {
        if (e.key !== "Escape") return;
        e.preventDefault();
        if (!cancelTopDialog()) this.stop();
      },
      true,
    );
    backend.onStop((view) => this.showApps(view));
    backend.stopStatus().then((view) => this.showApps(view));
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

  /** The last stop App by App (null while armed): waiting (re-sent every second until the
   *  phone reports 0/0), confirmed, left; no App at all says so. */
  showApps(view) {
    if (!view) {
      this.apps.replaceChildren();
      return;
    }
    const items = view.apps.map((a) => {
      const key = { waiting: "estop.appWaiting", confirmed: "estop.appConfirmed", left: "estop.appLeft" }[a.state];
      return h("li", { class: `emergency-stop__app emergency-stop__app--${a.state}`, "data-app": a.app, "data-state": a.state }, t(key, { app: a.app.slice(0, 8) }));
    });
    if (view.confirmed_unnamed) items.push(h("li", { class: "emergency-stop__app emergency-stop__app--confirmed" }, t("estop.moreConfirmed", { n: view.confirmed_unnamed })));
    if (!items.length) items.push(h("li", { class: "emergency-stop__app", id: "estop-no-app" }, t("estop.noApp")));
    if (view.cause === "watchdog") items.unshift(h("li", { class: "emergency-stop__app" }, t("estop.watchdog")));
    this.apps.replaceChildren(...items);
  }

  update(stopped) {
    document.body.classList.toggle("is-stopped", stopped);
    this.el.classList.toggle("is-stopped", stopped);
    this.rearmBtn.hidden = !stopped;
    setText(this.state, stopped ? t("estop.latched") : t("estop.armed"));
  }
}
