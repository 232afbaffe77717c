// The recent safety events: the last ones the shell kept (it keeps 50) and every new one,
// newest first, each with its time and the gate's notice worded in the user's language.
// The full trail is the log file (its folder is in the settings).

import { backend } from "./backend.js";
import { h } from "./lib/dom.js";
import { t, words } from "./lib/i18n.js";

/** As many as the shell keeps (src-tauri/src/audit.rs RECENT). */
const KEEP = 50;

const clock = (ms) => {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
};

export class SafetyLog {
  constructor(el) {
    this.el = el;
    this.el.append(
      h("h2", {}, t("safetyLog.title")),
      (this.list = h("ol", { class: "safety-log__items", id: "safety-log-items", reversed: true })),
      (this.empty = h("p", { class: "safety-log__empty" }, t("safetyLog.empty"))),
    );
    this.seen = 0;
    // Events that arrive while the first list is fetched come after it, unless the list
    // already holds them (the shell records an event before it emits it).
    const early = [];
    let fetched = null;
    backend.onSafety((notice) => (fetched ? this.add({ at_ms: Date.now(), notice }) : early.push({ at_ms: Date.now(), notice })));
    backend
      .recentSafetyEvents()
      .catch(() => [])
      .then((list) => {
        fetched = list ?? [];
        for (const e of fetched) this.add(e);
        const tail = new Set(fetched.slice(-early.length || fetched.length).map((e) => JSON.stringify(e.notice)));
        for (const e of early) if (!tail.has(JSON.stringify(e.notice))) this.add(e);
      });
  }

  add({ at_ms, notice }) {
    const item = h("li", { class: `safety-log__item safety-log__item--${notice.kind}`, "data-kind": notice.kind }, h("time", {}, clock(at_ms)), " ", words(notice));
    this.list.prepend(item);
    while (this.list.children.length > KEEP) this.list.lastChild.remove();
    this.empty.hidden = this.list.children.length > 0;
  }
}
