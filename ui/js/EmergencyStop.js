// The emergency stop: a large button, the Escape key, and the latched state with its
// re-arm action. The global shortcut lives in Rust; its stops arrive as the same event.

import { backend } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { shortcutLabel } from "./lib/format.js";

export class EmergencyStop {
  constructor(el, shortcuts = []) {
    this.el = el;
    this.el.append(
      (this.button = h("button", { type: "button", class: "emergency-stop__button", id: "estop", onclick: () => this.stop() }, "STOP")),
      (this.state = h("p", { class: "emergency-stop__state", id: "estop-state", role: "status" })),
      (this.rearmBtn = h("button", { type: "button", class: "emergency-stop__rearm", id: "rearm", hidden: true, onclick: () => backend.rearm() }, "Re-arm")),
      (this.hint = h("p", { class: "emergency-stop__hint" })),
    );
    this.setShortcuts(shortcuts);
    // Escape anywhere in the window stops, even while a slider has focus.
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this.stop();
      }
    }, true);
    backend.onEstop(({ stopped }) => this.update(stopped));
    backend.terminalStatus().then((s) => this.update(s.stopped));
  }

  setShortcuts(shortcuts) {
    const isMac = navigator.platform.startsWith("Mac");
    const keys = ["Esc", ...shortcuts.map((s) => shortcutLabel(s, isMac))].join(" · ");
    setText(this.hint, `Keys: ${keys}`);
  }

  stop() {
    this.update(true); // show it at once; the backend confirms with an event
    backend.emergencyStop();
  }

  update(stopped) {
    document.body.classList.toggle("is-stopped", stopped);
    this.el.classList.toggle("is-stopped", stopped);
    this.rearmBtn.hidden = !stopped;
    setText(this.state, stopped ? "STOPPED — both channels at 0, queues cleared" : "Armed");
  }
}
