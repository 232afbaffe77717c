// Settings: port, heartbeat, caps, rise rate, language; where the log and files are.

import { backend } from "./backend.js";
import { h, options, setText } from "./lib/dom.js";
import { t, words, getLanguage } from "./lib/i18n.js";
import { openDialog } from "./lib/dialog.js";

export class SettingsDialog {
  /** @param limits the ranges from the backend (`get_settings`), never repeated here */
  constructor(el, limits) {
    this.el = el;
    const num = (id, range) => h("input", { type: "number", id, min: String(range.min), max: String(range.max), step: "1", required: true });
    const row = (label, input) => h("label", { class: "settings-dialog__row" }, h("span", {}, label), input);
    this.el.append(
      h(
        "form",
        { method: "dialog", class: "settings-dialog__form", onsubmit: (e) => this.save(e) },
        h("h2", {}, t("settings.title")),
        row(t("settings.port"), (this.port = num("settings-port", limits.port))),
        row(t("settings.heartbeat"), (this.heartbeat = num("settings-heartbeat", limits.heartbeatSecs))),
        row(t("settings.capA"), (this.capA = num("settings-cap-a", limits.strength))),
        row(t("settings.capB"), (this.capB = num("settings-cap-b", limits.strength))),
        row(t("settings.rise"), (this.rise = num("settings-rise", limits.maxRisePerSec))),
        row(t("settings.language"), (this.language = h("select", { id: "settings-language" }, ...options([["en", "English"], ["zh", "中文"]], getLanguage())))),
        (this.paths = h("dl", { class: "settings-dialog__paths" })),
        (this.message = h("p", { class: "settings-dialog__message", id: "settings-message", role: "status" })),
        h(
          "div",
          { class: "settings-dialog__buttons" },
          h("button", { type: "button", id: "settings-close", onclick: () => this.el.close() }, t("settings.close")),
          h("button", { type: "submit", id: "settings-save", class: "primary" }, t("settings.save")),
        ),
      ),
    );
  }

  async open() {
    const [{ settings }, info] = await Promise.all([backend.getSettings(), backend.appInfo()]);
    this.settings = settings;
    this.port.value = settings.port;
    this.heartbeat.value = settings.heartbeatSecs;
    this.capA.value = settings.capA;
    this.capB.value = settings.capB;
    this.rise.value = settings.maxRisePerSec;
    this.language.value = settings.language;
    const entry = (k, v) => [h("dt", {}, t(k)), h("dd", {}, h("code", { id: `path-${k.split(".")[1]}` }, v ?? "—"))];
    this.paths.replaceChildren(...entry("settings.log", info.log_dir), ...entry("settings.files", info.settings_file), ...entry("settings.presetsDir", info.presets_dir));
    setText(this.message, "");
    openDialog(this.el); // non-modal: STOP stays clickable (lib/dialog.js)
  }

  async save(e) {
    e.preventDefault();
    const next = {
      ...this.settings,
      port: Number(this.port.value),
      heartbeatSecs: Number(this.heartbeat.value),
      capA: Number(this.capA.value),
      capB: Number(this.capB.value),
      maxRisePerSec: Number(this.rise.value),
      language: this.language.value,
    };
    try {
      const view = await backend.saveSettings(next);
      this.settings = view.settings;
      setText(this.message, view.restart_needed ? t("settings.restart") : t("settings.saved"));
      if (next.language !== getLanguage()) location.reload(); // every label is drawn once, at mount
    } catch (err) {
      setText(this.message, words(err));
    }
  }
}
