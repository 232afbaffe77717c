// The "Games" panel (issue 15 point 5): the Game-Hub-compatible API on this machine — on/off,
// port, LAN exposure with its token — the connect code a game mod pastes, the web remote's
// and OBS overlay's addresses, the game mode's state and the recent API calls. The shell
// runs the API and says everything here in numbers and kinds; this file only draws.

import { backend, copyText } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { t, words } from "./lib/i18n.js";

/** Calls listed at most (the shell keeps the last 50). */
const SHOWN_CALLS = 12;
/** The fire countdown and the game state are read again this often. */
const REFRESH_MS = 1000;

/** One recent call as a line of text. Pure. */
export function callLine(call) {
  const time = new Date(call.atMs).toLocaleTimeString();
  if (call.kind === "api_write") return `${time} ${call.peer} ${call.request}: ${call.detail}`;
  if (call.kind === "api_refused") return `${time} ${call.peer} ${call.request}: ${t("games.refused")} (${call.why})`;
  return `${time} ${t(call.on ? "games.outputOn" : "games.outputOff")}`;
}

/** The game mode of one game in words. Pure. */
export function gameLine(g) {
  const parts = [t("games.base", { base: g.strength.strength, random: g.strength.randomStrength })];
  if (g.fire) parts.push(t("games.fire", { boost: g.fire[0], secs: (g.fire[1] / 1000).toFixed(1) }));
  if (g.pulseIds.length) parts.push(t("games.pulse", { ids: g.pulseIds.join(", ") }));
  if (!g.app) parts.push(t("games.noApp"));
  return parts.join(" · ");
}

export class GamesPanel {
  constructor(el) {
    this.el = el;
    const copyRow = (id, label) =>
      h(
        "div",
        { class: "games__row" },
        h("span", { class: "games__label" }, label),
        h("code", { id, class: "games__value" }),
        h("button", { type: "button", id: `${id}-copy`, onclick: () => this.copy(id) }, t("games.copy")),
      );
    this.el.append(
      h("h2", {}, t("games.title")),
      (this.status = h("p", { id: "games-status", class: "games__status", role: "status" })),
      h(
        "form",
        { class: "games__form", id: "games-form", onsubmit: (e) => (e.preventDefault(), this.apply()) },
        h("label", {}, (this.enabled = h("input", { type: "checkbox", id: "games-enabled" })), " ", t("games.enabled")),
        h("label", {}, t("games.port"), " ", (this.port = h("input", { type: "number", id: "games-port", min: 1, max: 65535 }))),
        h("label", {}, (this.lan = h("input", { type: "checkbox", id: "games-lan" })), " ", t("games.lan")),
        h("button", { type: "submit", id: "games-apply" }, t("games.apply")),
      ),
      copyRow("games-code", t("games.code")),
      copyRow("games-token", t("games.token")),
      h("div", { class: "games__row" }, h("button", { type: "button", id: "games-new-token", onclick: () => this.newToken() }, t("games.newToken"))),
      copyRow("games-remote", t("games.remote")),
      copyRow("games-overlay", t("games.overlay")),
      h("h3", {}, t("games.mode")),
      h(
        "label",
        { class: "games__output" },
        (this.output = h("input", { type: "checkbox", id: "games-output", onchange: () => this.setOutput() })),
        " ",
        t("games.output"),
      ),
      (this.games = h("ul", { id: "games-list", class: "games__list" })),
      h("h3", {}, t("games.calls")),
      (this.calls = h("ol", { id: "games-calls", class: "games__calls" })),
      (this.error = h("p", { class: "games__error", id: "games-error", role: "alert" })),
    );
    backend.onGames((v) => this.draw(v));
    this.refresh(true);
    setInterval(() => this.refresh(false), REFRESH_MS);
  }

  async refresh(first) {
    try {
      this.draw(await backend.gamesState(), first);
    } catch (e) {
      if (first) setText(this.error, words(e));
    }
  }

  draw(v, first = true) {
    this.view = v;
    setText(
      this.status,
      v.listening
        ? t("games.listening", { addr: v.listening })
        : v.problem
          ? t(`games.problem.${v.problem.reason}`, { port: v.problem.port })
          : t("games.off"),
    );
    this.status.dataset.state = v.listening ? "on" : v.problem ? "problem" : "off";
    // The form keeps what the user is typing; it follows the shell only when drawn afresh.
    if (first || !this.el.contains(document.activeElement) || document.activeElement === this.output) {
      this.enabled.checked = v.enabled;
      this.lan.checked = v.lan;
      if (document.activeElement !== this.port) this.port.value = String(v.port);
    }
    this.output.checked = v.output;
    setText(this.el.querySelector("#games-code"), v.connectCode ?? "—");
    setText(this.el.querySelector("#games-token"), v.token);
    setText(this.el.querySelector("#games-remote"), v.remoteUrl ?? "—");
    setText(this.el.querySelector("#games-overlay"), v.overlayUrl ?? "—");
    // One line per game, cut with an ellipsis (the whole line in its tooltip): a line that
    // wrapped as the App came and went would move everything below it in the column.
    this.games.replaceChildren(
      ...v.games.map((g) => {
        const line = gameLine(g);
        return h("li", { "data-id": g.id, title: line }, line);
      }),
    );
    const calls = v.recent.slice(-SHOWN_CALLS).reverse();
    this.calls.replaceChildren(...calls.map((c) => h("li", { "data-kind": c.kind }, callLine(c))));
  }

  async apply() {
    setText(this.error, "");
    try {
      this.draw(await backend.setGamesApi(this.enabled.checked, Number(this.port.value), this.lan.checked));
    } catch (e) {
      setText(this.error, words(e));
    }
  }

  async newToken() {
    setText(this.error, "");
    try {
      this.draw(await backend.newGamesToken());
    } catch (e) {
      setText(this.error, words(e));
    }
  }

  async setOutput() {
    setText(this.error, "");
    try {
      this.draw(await backend.setGameOutput(this.output.checked));
    } catch (e) {
      this.output.checked = false;
      setText(this.error, words(e));
    }
  }

  async copy(id) {
    const text = this.el.querySelector(`#${id}`).textContent;
    if (!text || text === "—") return;
    try {
      await copyText(text);
      setText(this.error, "");
    } catch (e) {
      setText(this.error, words(e));
    }
  }
}
