// The App's feedback buttons, newest first, as the shapes the App shows, with times.

import { backend } from "./backend.js";
import { h } from "./lib/dom.js";
import { feedbackButton } from "./lib/feedback.js";
import { formatClock } from "./lib/format.js";
import { t } from "./lib/i18n.js";

const KEEP = 50;

export class FeedbackList {
  constructor(el) {
    this.el = el;
    this.el.append(
      h("h2", {}, t("feedback.title")),
      (this.list = h("ol", { class: "feedback-list__items", id: "feedback-items" })),
      (this.empty = h("p", { class: "feedback-list__empty" }, t("feedback.empty"))),
    );
    backend.onTerminal((ev) => {
      if (ev.kind === "feedback") this.add(ev.index, new Date());
    });
  }

  add(index, when) {
    const b = feedbackButton(index);
    this.list.prepend(
      h(
        "li",
        { class: "feedback-list__item", "data-channel": b.channel, "data-index": index },
        h("span", { class: "feedback-list__shape" }, b.shape),
        h("span", { class: "feedback-list__channel" }, b.channel),
        h("time", { class: "feedback-list__time" }, formatClock(when)),
      ),
    );
    while (this.list.children.length > KEEP) this.list.lastChild.remove();
    this.empty.hidden = true;
  }
}
