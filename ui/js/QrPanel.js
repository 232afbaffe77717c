// The pairing panel: which App it pairs (DG-LAB App 4.x through the V4 relay, or 3.x
// through SOCKET), the QR code (SVG drawn by Rust), the pairing URL to copy, the LAN
// addresses to choose from and a field for a manual host (reverse proxy, domain, wss).
// Both choices are saved by the backend and used again at the next start.

import { backend, copyText } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { t, words } from "./lib/i18n.js";

export class QrPanel {
  constructor(el) {
    this.el = el;
    this.apps = {}; // "v4" | "socket" -> its radio button
    this.el.append(
      h("h2", {}, t("qr.title")),
      h(
        "div",
        { class: "qr-panel__apps", role: "radiogroup", "aria-label": t("qr.appChoice") },
        ...["v4", "socket"].map((app) =>
          h(
            "label",
            { class: "qr-panel__app" },
            (this.apps[app] = h("input", { type: "radio", name: "pairing-app", value: app, id: `pairing-app-${app}`, onchange: () => this.chooseApp(app) })),
            h("span", { class: "qr-panel__app-name" }, t(`qr.app.${app}`)),
            h("small", {}, t(`qr.appFor.${app}`)),
          ),
        ),
      ),
      (this.img = h("img", { class: "qr-panel__code", id: "qr-img", alt: t("qr.alt") })),
      h(
        "div",
        { class: "qr-panel__url" },
        (this.url = h("code", { id: "pairing-url", tabindex: "0" }, t("qr.loading"))),
        (this.copyBtn = h("button", { type: "button", id: "copy-url", onclick: () => this.copy() }, t("qr.copy"))),
      ),
      (this.hint = h("p", { class: "qr-panel__hint", id: "qr-hint" }, t("qr.hint"))),
      h(
        "label",
        { class: "qr-panel__field" },
        t("qr.address") + " ",
        (this.select = h("select", { id: "address-select", onchange: () => this.choose(this.select.value) })),
      ),
      h(
        "form",
        { class: "qr-panel__field qr-panel__manual", onsubmit: (e) => this.submitManual(e) },
        (this.manual = h("input", { id: "manual-host", type: "text", placeholder: t("qr.manualPlaceholder"), spellcheck: "false", autocomplete: "off" })),
        h("button", { type: "submit", id: "manual-apply" }, t("qr.use")),
      ),
      (this.notice = h("p", { class: "qr-panel__notice", id: "port-notice", role: "status" })),
      (this.error = h("p", { class: "qr-panel__error", id: "qr-error", role: "alert" })),
    );
    this.run(backend.pairingInfo());
  }

  async run(promise) {
    try {
      this.update(await promise);
      setText(this.error, "");
    } catch (e) {
      setText(this.error, words(e));
    }
  }

  chooseApp(app) {
    this.manual.value = "";
    this.run(backend.setPairingApp(app));
  }

  choose(value) {
    this.manual.value = "";
    this.run(backend.setPairingAddress(value === "" ? null : value));
  }

  submitManual(e) {
    e.preventDefault();
    this.run(backend.setPairingAddress(this.manual.value.trim() || null));
  }

  update(info) {
    for (const [app, radio] of Object.entries(this.apps)) radio.checked = app === info.app;
    this.el.dataset.app = info.app;
    setText(this.hint, t(info.app === "v4" ? "qr.hintV4" : "qr.hint"));
    // A data: URL in an <img>: the SVG can never run script, and the CSP allows it.
    this.img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(info.svg);
    setText(this.url, info.url);
    const best = info.addresses[0]?.addr ?? "127.0.0.1";
    const opts = [h("option", { value: "" }, t("qr.auto", { addr: best }))];
    for (const a of info.addresses) opts.push(h("option", { value: a.addr }, `${a.addr} — ${a.interface}`));
    const typed = info.chosen.includes("://");
    if (typed) opts.push(h("option", { value: info.chosen }, info.chosen));
    this.select.replaceChildren(...opts);
    // Automatic unless a LAN address or a URL was chosen explicitly.
    this.select.value = typed || info.addresses.some((a) => a.addr === info.chosen && a !== info.addresses[0]) ? info.chosen : "";
    if (typed) this.manual.placeholder = info.chosen;
    const notes = [];
    // Why the port differs (a reserved port needs administrator rights; else it is busy);
    // the fallback is kept for the next start, so the QR code stays the same.
    // The 4.x code changes at every start anyway (a new controller id), so no port is kept for it.
    if (info.port.actual !== info.port.requested) {
      notes.push(t(info.app === "v4" ? "qr.v4PortMoved" : info.port.reason === "permission" ? "qr.portPermission" : "qr.portBusy", info.port));
    }
    if (info.loopback_only && !typed) notes.push(t("qr.noLan"));
    setText(this.notice, notes.join(" "));
    // The phone test (PhoneCheck) follows the address the QR code carries.
    document.dispatchEvent(new CustomEvent("pairing-changed"));
  }

  async copy() {
    await copyText(this.url.textContent);
    setText(this.copyBtn, t("qr.copied"));
    setTimeout(() => setText(this.copyBtn, t("qr.copy")), 1500);
  }
}
