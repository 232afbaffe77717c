// "Test with the phone's camera": a second QR code holding http://address:port/check for
// the address the pairing QR code carries. A phone that opens it gets the relay's own page;
// the relay reports the visit and this panel says live when and from where.

import { backend } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { formatClock } from "./lib/format.js";
import { t, words } from "./lib/i18n.js";

/** A visit to the test page by something else than the doctor's own self-test. */
const isPhoneVisit = (a) => a.kind === "reached" && !a.params?.self_test;

export class PhoneCheck {
  constructor(el) {
    this.el = el;
    this.el.append(
      h("h2", {}, t("phone.title")),
      (this.img = h("img", { class: "phone-check__code", id: "phone-check-img", alt: t("phone.alt") })),
      (this.url = h("code", { class: "phone-check__url", id: "phone-check-url" })),
      h("p", { class: "phone-check__hint" }, t("phone.hint")),
      (this.status = h("p", { class: "phone-check__status", id: "phone-check-status", role: "status" }, t("phone.waiting"))),
    );
    this.refresh();
    // The pairing address may change in the QR panel: follow it.
    document.addEventListener("pairing-changed", () => this.refresh());
    backend.onPhoneAttempt((a) => {
      if (isPhoneVisit(a)) this.reached(a);
    });
    backend.phoneAttempts().then((list) => {
      const last = list.filter(isPhoneVisit).pop();
      if (last) this.reached(last);
    });
  }

  async refresh() {
    try {
      const check = await backend.phoneCheck();
      this.img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(check.svg);
      setText(this.url, check.url);
    } catch (e) {
      setText(this.url, words(e));
    }
  }

  reached(a) {
    setText(this.status, t("phone.reached", { from: a.from ?? "?", time: formatClock(new Date(a.at_ms)) }));
    this.status.dataset.state = "reached";
  }
}
