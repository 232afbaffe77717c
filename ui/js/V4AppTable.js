// The binding table's DG-LAB App 4.x part: every V4 controller (this window's first), its
// Apps, and the device slots each App reported (name, type, strength per channel against
// the App's own limit, battery, Bluetooth). Redrawn from the backend's whole table each
// time it says something changed; only "connected for" ticks locally. Each slot of our
// Apps has −, + and 0 per channel: the backend sets it through the safety gate (caps,
// rise rate, STOP) and the App's next report shows where it is.

import { backend } from "./backend.js";
import { h, notify, setText } from "./lib/dom.js";
import { formatDuration, formatRtt } from "./lib/format.js";
import { t, words } from "./lib/i18n.js";
import { slotText } from "./lib/v4-slot.js";

export class V4AppTable {
  constructor(el) {
    this.el = el;
    this.data = [];
    const heads = ["v4.app", "connections.remote", "connections.for", "v4.controller", "v4.devices", "connections.rtt"];
    this.el.append(
      h("h2", {}, t("v4.title")),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", {}, t(k))))),
        (this.body = h("tbody", { id: "v4-apps-body", onclick: (e) => this.press(e) })),
      ),
      (this.empty = h("p", { class: "v4-apps__empty", id: "v4-apps-empty" }, t("v4.empty"))),
    );
    // Subscribe before the first fetch so no change between the two is missed.
    backend
      .onV4Apps((rows) => this.update(rows))
      .then(() => backend.v4Apps())
      .then((rows) => this.update(rows));
    setInterval(() => this.tick(), 1000);
  }

  update(controllers) {
    this.data = controllers.flatMap((c) => c.apps.map((a) => ({ ...a, controller: c })));
    const rows = this.data.map((a) => {
      const devices =
        a.devices === null
          ? h("span", { class: "v4-apps__unknown" }, t(a.controller.ours ? "v4.waiting" : "v4.notOurs"))
          : a.devices.length === 0
            ? h("span", { class: "v4-apps__unknown" }, t("v4.noDevices"))
            : h("ul", { class: "v4-apps__slots" }, ...a.devices.map((d) => h("li", { "data-slot": d.slot_id, title: d.slot_id }, h("span", { class: "v4-apps__slot" }, slotText(d)), this.controls(a.id, d))));
      return h(
        "tr",
        { "data-id": a.id, class: a.controller.ours ? "is-ours" : null },
        h("td", {}, a.id),
        h("td", {}, a.remote ?? "—"),
        h("td", { class: "v4-apps__for" }),
        h("td", {}, a.controller.ours ? t("v4.ours") : a.controller.id),
        h("td", {}, devices),
        h("td", {}, formatRtt(a.rtt_ms)),
      );
    });
    this.body.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
    this.tick();
  }

  /** −, + and 0 for A and B of one slot (buttons survive the redraw: a click is whole). */
  controls(app, d) {
    const btn = (ch, i, step, label, key) =>
      h("button", { type: "button", class: "v4-apps__step", "data-app": app, "data-slot": d.slot_id, "data-ch": ch, "data-to": step === 0 ? 0 : Math.max(0, (d.strength[i] ?? 0) + step), "aria-label": t(key, { ch }) }, label);
    return h(
      "span",
      { class: "v4-apps__controls" },
      ...[["A", 0], ["B", 1]].map(([ch, i]) => h("span", { class: "v4-apps__channel" }, btn(ch, i, -1, "−", "v4.down"), ch, btn(ch, i, 1, "+", "v4.up"), btn(ch, i, 0, "0", "v4.zero"))),
    );
  }

  async press(e) {
    const b = e.target.closest?.(".v4-apps__step");
    if (!b) return;
    try {
      await backend.v4SetStrength(b.dataset.app, b.dataset.slot, b.dataset.ch, Number(b.dataset.to));
    } catch (err) {
      notify(words(err), "error");
    }
  }

  tick() {
    const now = Date.now();
    this.data.forEach((a, i) => {
      const td = this.body.children[i]?.children[2];
      if (td) setText(td, formatDuration(now - a.connected_since_ms));
    });
  }
}
