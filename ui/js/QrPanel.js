// The pairing panel: the QR code (SVG drawn by Rust), the pairing URL to copy, the LAN
// addresses to choose from and a field for a manual host (reverse proxy, domain, wss).

import { backend, errorText } from "./backend.js";
import { h, setText } from "./lib/dom.js";

export class QrPanel {
  constructor(el) {
    this.el = el;
    this.base = null; // null: the best LAN address
    this.el.append(
      h("h2", {}, "Pair the phone"),
      (this.img = h("img", { class: "qr-panel__code", id: "qr-img", alt: "Pairing QR code" })),
      h(
        "div",
        { class: "qr-panel__url" },
        (this.url = h("code", { id: "pairing-url", tabindex: "0" }, "…")),
        (this.copyBtn = h("button", { type: "button", id: "copy-url", onclick: () => this.copy() }, "Copy")),
      ),
      h(
        "label",
        { class: "qr-panel__field" },
        "Address ",
        (this.select = h("select", { id: "address-select", onchange: () => this.choose(this.select.value) })),
      ),
      h(
        "form",
        { class: "qr-panel__field qr-panel__manual", onsubmit: (e) => this.submitManual(e) },
        (this.manual = h("input", {
          id: "manual-host",
          type: "text",
          placeholder: "wss://relay.example.org",
          spellcheck: "false",
          autocomplete: "off",
        })),
        h("button", { type: "submit", id: "manual-apply" }, "Use"),
      ),
      (this.notice = h("p", { class: "qr-panel__notice", id: "port-notice", role: "status" })),
      (this.error = h("p", { class: "qr-panel__error", id: "qr-error", role: "alert" })),
    );
    this.refresh();
  }

  async refresh() {
    try {
      this.update(await backend.pairingInfo(this.base));
      setText(this.error, "");
    } catch (e) {
      setText(this.error, errorText(e));
    }
  }

  choose(base) {
    this.base = base || null;
    this.manual.value = "";
    this.refresh();
  }

  submitManual(e) {
    e.preventDefault();
    this.base = this.manual.value.trim() || null;
    this.refresh();
  }

  update(info) {
    // A data: URL in an <img>: the SVG can never run script, and the CSP allows it.
    this.img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(info.svg);
    setText(this.url, info.url);
    const options = info.addresses.map((a) => h("option", { value: a }, a));
    if (!info.addresses.includes(info.base)) options.push(h("option", { value: info.base }, info.base));
    this.select.replaceChildren(...options);
    this.select.value = info.base;
    const notes = [];
    if (info.port.actual !== info.port.requested)
      notes.push(`Port ${info.port.requested} is busy, so the relay listens on ${info.port.actual}.`);
    if (info.loopback_only)
      notes.push("No network address found: a phone cannot reach this computer. Type a public address below.");
    setText(this.notice, notes.join(" "));
  }

  async copy() {
    const text = this.url.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Older WebKitGTK: select the text and use the legacy copy command.
      const range = document.createRange();
      range.selectNodeContents(this.url);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      document.execCommand("copy");
    }
    setText(this.copyBtn, "Copied");
    setTimeout(() => setText(this.copyBtn, "Copy"), 1500);
  }
}
