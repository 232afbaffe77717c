// The App's feedback buttons, newest first, as the shapes the App shows, with times. The
// core says which channel a button belongs to and its position there; this file only
// draws the App's shape for that position.

import { backend } from "./backend.js";
import { h } from "./lib/dom.js";
import { formatClock } from "./lib/format.js";
import { t } from "./lib/i18n.js";

const KEEP = 50;
/** The App's five button shapes, by position left to right (the same on both channels). */
const SHAPES = ["○", "△", "□", "☆", "⬡"];

export class FeedbackList {
  constructor(el) {
    this.el = el;
    this.el.append(
      h("h2", {}, t("feedback.title")),
      (this.list = h("ol", { class: "feedback-list__items", id: "feedback-items" })),
      (this.empty = h("p", { class: "feedback-list__empty" }, t("feedback.empty"))),
    );
    backend.onTerminal((ev) => {
      if (ev.kind === "feedback") this.add(ev, new Date());
    });
  }

  /** @param {{index: number, channel: "A"|"B", position: number}} b the core's button */
  add(b, when) {
    this.list.prepend(
      h(
        "li",
        { class: "feedback-list__item", "data-channel": b.channel, "data-index": b.index },
        h("span", { class: "feedback-list__shape" }, SHAPES[b.position] ?? "?"),
        h("span", { class: "feedback-list__channel" }, b.channel),
        h("time", { class: "feedback-list__time" }, formatClock(when)),
      ),
    );
    while (this.list.children.length > KEEP) this.list.lastChild.remove();
    this.empty.hidden = true;
  }
}
