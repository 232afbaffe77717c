// The protocol inspector: a live, bounded list of the relay's frames — time, connection,
// direction, what it means, raw JSON — with filters by connection and kind, pause, and an
// export as JSON lines. Meanings arrive as {kind, params} and are worded here.

import { backend } from "./backend.js";
import { h, options, setText } from "./lib/dom.js";
import { formatClock } from "./lib/format.js";
import { t, words } from "./lib/i18n.js";
import { jsonLines, meaningText } from "./lib/diagnosis.js";

/** Records kept (and drawn at most). */
const KEEP = 500;

export class Inspector {
  constructor(el) {
    this.el = el;
    this.records = [];
    this.running = false;
    this.paused = false;
    this.lost = 0;
    this.el.append(
      h(
        "div",
        { class: "inspector__head" },
        h("h2", {}, t("inspector.title")),
        (this.toggle = h("button", { type: "button", id: "inspector-toggle", onclick: () => this.toggleRunning() }, t("inspector.start"))),
        (this.pauseBtn = h("button", { type: "button", id: "inspector-pause", onclick: () => this.togglePause() }, t("inspector.pause"))),
        h("button", { type: "button", id: "inspector-clear", onclick: () => this.clear() }, t("inspector.clear")),
        h("button", { type: "button", id: "inspector-export", onclick: () => this.export() }, t("inspector.export")),
        (this.download = h("a", { id: "inspector-download", download: "dglab-inspector.jsonl", hidden: true })),
      ),
      h(
        "div",
        { class: "inspector__filters" },
        (this.connFilter = h("select", { id: "inspector-connection", onchange: () => this.draw() })),
        (this.kindFilter = h("select", { id: "inspector-kind", onchange: () => this.draw() })),
        (this.count = h("span", { class: "inspector__count", id: "inspector-count" })),
      ),
      (this.note = h("p", { class: "inspector__note", id: "inspector-note", role: "status" }, t("inspector.empty"))),
      h("div", { class: "inspector__scroll" }, (this.table = h("table", { class: "inspector__table", id: "inspector-table" }, (this.body = h("tbody"))))),
    );
    this.updateFilters();
    backend.onInspector((batch) => this.receive(batch));
  }

  async toggleRunning() {
    try {
      if (this.running) await backend.stopInspector();
      else await backend.startInspector();
      this.running = !this.running;
      setText(this.toggle, t(this.running ? "inspector.stop" : "inspector.start"));
      this.el.dataset.running = this.running;
    } catch (e) {
      setText(this.note, words(e));
    }
  }

  togglePause() {
    this.paused = !this.paused;
    setText(this.pauseBtn, t(this.paused ? "inspector.resume" : "inspector.pause"));
    this.el.dataset.paused = this.paused;
  }

  receive({ records, lost }) {
    // Paused: the list stands still; what arrives meanwhile is not kept.
    if (this.paused) return;
    this.lost += lost;
    this.records.push(...records);
    if (this.records.length > KEEP) this.records.splice(0, this.records.length - KEEP);
    this.updateFilters();
    this.draw();
  }

  clear() {
    this.records = [];
    this.lost = 0;
    this.updateFilters();
    this.draw();
  }

  /** The records the filters let through. */
  shown() {
    const conn = this.connFilter.value;
    const kind = this.kindFilter.value;
    return this.records.filter((r) => (!conn || (r.connection ?? "-") === conn) && (!kind || r.meaning.kind === kind));
  }

  updateFilters() {
    const conns = [...new Set(this.records.map((r) => r.connection ?? "-"))];
    const kinds = [...new Set(this.records.map((r) => r.meaning.kind))];
    // Rebuilt only when the choices change: an open dropdown must not close on every batch.
    const keep = (sel, pairs) => {
      const key = pairs.map((p) => p[0]).join("\n");
      if (sel.dataset.choices === key) return;
      sel.dataset.choices = key;
      const value = sel.value;
      sel.replaceChildren(...options(pairs, value));
    };
    keep(this.connFilter, [["", t("inspector.allConnections")], ...conns.map((c) => [c, c === "-" ? t("inspector.noConnection") : c.slice(0, 8)])]);
    keep(this.kindFilter, [["", t("inspector.allKinds")], ...kinds.map((k) => [k, k])]);
  }

  draw() {
    const rows = this.shown();
    this.body.replaceChildren(
      ...rows
        .slice(-KEEP)
        .reverse()
        .map((r) =>
          h(
            "tr",
            { class: "inspector__row", "data-direction": r.direction, "data-kind": r.meaning.kind, "data-connection": r.connection ?? "" },
            h("td", { class: "inspector__time" }, formatClock(new Date(r.time_ms))),
            h("td", { class: "inspector__conn" }, r.connection ? r.connection.slice(0, 8) : "—"),
            h("td", { class: "inspector__dir" }, t(`inspector.dir.${r.direction}`)),
            h("td", { class: "inspector__meaning" }, meaningText(r.meaning)),
            h("td", { class: "inspector__raw" }, h("code", { title: r.raw }, r.raw)),
          ),
        ),
    );
    setText(this.count, t("inspector.count", { n: rows.length }));
    const notes = [];
    if (this.lost) notes.push(t("inspector.lost", { n: this.lost }));
    if (!this.records.length && !this.running) notes.push(t("inspector.empty"));
    setText(this.note, notes.join(" "));
  }

  /** Downloads the shown records as JSON lines (a data: URL, so nothing is kept around). */
  export() {
    this.download.href = "data:application/x-ndjson;charset=utf-8," + encodeURIComponent(jsonLines(this.shown()));
    this.download.click();
  }
}
