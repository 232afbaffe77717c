// The binding table: every connection to our relay, redrawn from the relay's snapshot each
// time the backend says it changed. Only "connected for" ticks locally.

import { backend } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { formatDuration, formatRtt, roleKey, shortId } from "./lib/format.js";
import { t } from "./lib/i18n.js";

export class ConnectionTable {
  constructor(el) {
    this.el = el;
    this.rows = new Map(); // id -> <tr>
    this.data = [];
    const heads = ["connections.id", "connections.role", "connections.remote", "connections.for", "connections.paired", "connections.rtt"];
    this.el.append(
      h("h2", {}, t("connections.title")),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", {}, t(k))))),
        (this.body = h("tbody", { id: "connections-body" })),
      ),
      (this.empty = h("p", { class: "connection-table__empty" }, t("connections.empty"))),
    );
    // Subscribe before the first fetch so no change between the two is missed.
    backend
      .onConnections((rows) => this.update(rows))
      .then(() => backend.listConnections())
      .then((rows) => this.update(rows));
    setInterval(() => this.tick(), 1000);
  }

  update(rows) {
    this.data = rows;
    const seen = new Set();
    for (const c of rows) {
      seen.add(c.id);
      let tr = this.rows.get(c.id);
      if (!tr) {
        tr = h("tr", { "data-id": c.id }, ...Array.from({ length: 6 }, () => h("td")));
        this.rows.set(c.id, tr);
      }
      this.body.append(tr); // keeps the snapshot's order (oldest first)
      const td = tr.children;
      setText(td[0], shortId(c.id));
      td[0].title = c.id;
      setText(td[1], t(roleKey(c.role, c.ours)));
      tr.dataset.role = c.role;
      tr.classList.toggle("is-ours", c.ours);
      setText(td[2], c.remote ?? t("connections.inApp"));
      setText(td[4], c.paired_with ? shortId(c.paired_with) : "—");
      setText(td[5], formatRtt(c.rtt_ms));
    }
    for (const [id, tr] of this.rows) {
      if (!seen.has(id)) {
        tr.remove();
        this.rows.delete(id);
      }
    }
    this.empty.hidden = rows.length > 0;
    this.tick();
  }

  tick() {
    const now = Date.now();
    for (const c of this.data) {
      const tr = this.rows.get(c.id);
      if (tr) setText(tr.children[3], formatDuration(now - c.connected_since_ms));
    }
  }
}
