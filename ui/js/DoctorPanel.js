// The pairing doctor: every address of this computer with why it ranks where it does, the
// self-test through it and the phone-test URL; the firewall; hints for a typed public URL;
// the last phone attempts, live. The findings come from the core as {kind, params}.

import { backend } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { t, words } from "./lib/i18n.js";
import { attemptText, firewallText, rankText, reasonText, selfTestText, urlHintText, verdictText } from "./lib/diagnosis.js";

const KEEP = 20;

export class DoctorPanel {
  constructor(el) {
    this.el = el;
    this.el.append(
      h(
        "div",
        { class: "doctor-panel__head" },
        h("h2", {}, t("doctor.title")),
        (this.button = h("button", { type: "button", id: "doctor-run", onclick: () => this.run() }, t("doctor.run"))),
      ),
      h("p", { class: "doctor-panel__intro" }, t("doctor.intro")),
      (this.verdict = h("p", { class: "doctor-panel__verdict", id: "doctor-verdict", role: "status" })),
      (this.list = h("ol", { class: "doctor-panel__addresses", id: "doctor-addresses" })),
      (this.firewall = h("div", { class: "doctor-panel__firewall", id: "doctor-firewall" })),
      (this.url = h("div", { class: "doctor-panel__url", id: "doctor-url" })),
      h("h3", {}, t("doctor.attempts")),
      (this.attempts = h("ol", { class: "doctor-panel__attempts", id: "doctor-attempts" })),
      (this.noAttempts = h("p", { class: "doctor-panel__empty" }, t("doctor.noAttempts"))),
    );
    backend.onPhoneAttempt((a) => this.addAttempt(a));
    backend.phoneAttempts().then((list) => list.forEach((a) => this.addAttempt(a)));
  }

  async run() {
    this.button.disabled = true;
    setText(this.button, t("doctor.running"));
    try {
      // data-only="ip,ip" limits the check to those addresses (the end-to-end test stays
      // on loopback); by default every address of this computer is tested.
      const only = this.el.dataset.only ? this.el.dataset.only.split(",") : null;
      this.show(await backend.runDoctor(only));
    } catch (e) {
      setText(this.verdict, words(e));
    } finally {
      this.button.disabled = false;
      setText(this.button, t("doctor.run"));
    }
  }

  show(report) {
    setText(this.verdict, verdictText(report.verdict));
    this.verdict.dataset.kind = report.verdict.kind;
    this.list.replaceChildren(
      ...report.addresses.map((a) =>
        h(
          "li",
          { class: "doctor-panel__address", "data-addr": a.addr, "data-test": a.self_test.kind, "data-usable": a.phone_usable },
          h(
            "div",
            { class: "doctor-panel__title" },
            h("strong", {}, a.addr),
            ` ${a.interface} · ${t(`doctor.kind.${a.kind}`)} · ${t(`doctor.scope.${a.scope}`)} · ${rankText(a.rank)}`,
          ),
          ...a.reasons.map((r) => h("div", { class: "doctor-panel__reason" }, reasonText(r))),
          h("div", { class: "doctor-panel__test" }, selfTestText(a.self_test)),
          a.phone_usable ? h("div", { class: "doctor-panel__check" }, t("doctor.phoneTest", { url: a.check_url })) : null,
        ),
      ),
    );
    const fw = report.firewall;
    this.firewall.replaceChildren(
      h("div", { class: "doctor-panel__title" }, `${t("doctor.firewall", { port: fw.port })}: ${t(`doctor.firewall.${fw.verdict}`)}`),
      ...fw.findings.map((f) => h("div", { class: "doctor-panel__reason" }, firewallText(f, fw.port))),
    );
    const pub = report.public_url;
    this.url.replaceChildren(
      ...(pub
        ? [h("div", { class: "doctor-panel__title" }, t("doctor.publicUrl", { url: pub.url })), ...pub.hints.map((x) => h("div", { class: "doctor-panel__reason" }, urlHintText(x)))]
        : []),
    );
  }

  addAttempt(a) {
    this.attempts.prepend(h("li", { class: "doctor-panel__attempt", "data-kind": a.kind }, attemptText(a)));
    while (this.attempts.children.length > KEEP) this.attempts.lastChild.remove();
    this.noAttempts.hidden = true;
  }
}
