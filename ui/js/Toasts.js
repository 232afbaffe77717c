// Short messages (saved, copied, errors in plain words) in one corner; each fades on its own.

import { h } from "./lib/dom.js";

export class Toasts {
  constructor(el) {
    this.el = el;
    document.addEventListener("notify", (e) => this.show(e.detail.text, e.detail.level));
  }

  show(text, level = "info") {
    const item = h("div", { class: `toasts__item toasts__item--${level}`, role: level === "error" ? "alert" : "status" }, text);
    this.el.append(item);
    setTimeout(() => item.remove(), level === "error" ? 8000 : 3500);
  }
}
