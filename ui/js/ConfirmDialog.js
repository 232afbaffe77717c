// A question with OK/Cancel, and optionally a text field: the app's own, so it looks the
// same everywhere and WebDriver can answer it like any element. It blocks the page but not
// the top bar: STOP stays clickable above it (lib/dialog.js), and Escape cancels it.

import { h, setText } from "./lib/dom.js";
import { openDialog } from "./lib/dialog.js";
import { t } from "./lib/i18n.js";

export class ConfirmDialog {
  constructor(el) {
    this.el = el;
    this.el.append(
      h(
        "form",
        { method: "dialog", class: "confirm-dialog__form" },
        (this.message = h("p", { class: "confirm-dialog__message", id: "confirm-message" })),
        (this.input = h("input", { type: "text", id: "confirm-input", autocomplete: "off", spellcheck: "false" })),
        h(
          "div",
          { class: "confirm-dialog__buttons" },
          h("button", { type: "button", id: "confirm-cancel", onclick: () => this.close(null) }, t("confirm.cancel")),
          (this.ok = h("button", { type: "submit", id: "confirm-ok", class: "primary", onclick: (e) => { e.preventDefault(); this.close(this.input.hidden ? true : this.input.value); } }, t("confirm.ok"))),
        ),
      ),
    );
    this.el.addEventListener("cancel", () => this.close(null));
  }

  /** Resolves to true (or the typed text) on OK, null on Cancel. */
  ask(message, { input = false, value = "" } = {}) {
    setText(this.message, message);
    this.input.hidden = !input;
    this.input.value = value;
    openDialog(this.el);
    if (input) this.input.select();
    else this.ok.focus();
    return new Promise((resolve) => (this.resolve = resolve));
  }

  close(result) {
    if (this.el.open) this.el.close();
    const r = this.resolve;
    this.resolve = null;
    r?.(result);
  }
}
