// Settings: port, heartbeat, caps, rise rate, language, theme; where the log and files
// are, a button to open the log folder and the log's last lines.

import { backend } from "./backend.js";
import { h, options, setText } from "./lib/dom.js";
import { checkInteger } from "./lib/number-field.js";
import { applyTheme, rememberPrefs } from "./lib/prefs.js";
import { t, words, getLanguage } from "./lib/i18n.js";
import { openDialog } from "./lib/dialog.js";

export class SettingsDialog {
  /** @param limits the ranges from the backend (`get_settings`), never repeated here
   *  @param {{beforeReload?: () => void}} hooks `beforeReload` keeps what must survive the
   *  reload a language switch needs (unsaved waveform edits) */
  constructor(el, limits, hooks = {}) {
    this.el = el;
    this.limits = limits;
    this.hooks = hooks;
    const num = (id, range) => h("input", { type: "number", id, min: String(range.min), max: String(range.max), step: "1" });
    const row = (label, input, hint) => h("label", { class: "settings-dialog__row" }, h("span", {}, label, hint ?? ""), input);
    this.el.append(
      h(
        "form",
        // The browser's own validation bubbles are English only: the fields are checked here.
        { method: "dialog", class: "settings-dialog__form", novalidate: true, onsubmit: (e) => this.save(e) },
        h("h2", {}, t("settings.title")),
        row(t("settings.port"), (this.port = num("settings-port", limits.port)), (this.portNote = h("small", { class: "field-hint", id: "settings-port-note" }))),
        row(t("settings.heartbeat"), (this.heartbeat = num("settings-heartbeat", limits.heartbeatSecs))),
        row(t("settings.capA"), (this.capA = num("settings-cap-a", limits.strength))),
        row(t("settings.capB"), (this.capB = num("settings-cap-b", limits.strength))),
        row(t("settings.rise"), (this.rise = num("settings-rise", limits.maxRisePerSec))),
        row(t("settings.language"), (this.language = h("select", { id: "settings-language" }, ...options([["en", "English"], ["zh", "中文"]], getLanguage())))),
        row(t("settings.theme"), (this.theme = h("select", { id: "settings-theme" }, ...options(["system", "light", "dark"].map((k) => [k, t(`settings.theme.${k}`)]))))),
        (this.paths = h("dl", { class: "settings-dialog__paths" })),
        h(
          "div",
          { class: "settings-dialog__log-buttons" },
          h("button", { type: "button", id: "open-log-folder", onclick: () => this.openLogFolder() }, t("settings.openLog")),
        ),
        // Folded, so the dialog fits a small window; the lines are read when it is opened.
        (this.logBox = h(
          "details",
          { class: "settings-dialog__recent", id: "recent-log-box", ontoggle: () => this.logBox.open && this.showLog() },
          h("summary", {}, t("settings.recentLog")),
          (this.log = h("pre", { class: "settings-dialog__log", id: "recent-log", tabindex: "0" })),
        )),
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
    const [{ settings }, info, pairing] = await Promise.all([backend.getSettings(), backend.appInfo(), backend.pairingInfo().catch(() => null)]);
    this.settings = settings;
    this.port.value = settings.port;
    this.heartbeat.value = settings.heartbeatSecs;
    this.capA.value = settings.capA;
    this.capB.value = settings.capB;
    this.rise.value = settings.maxRisePerSec;
    this.language.value = settings.language;
    this.theme.value = settings.theme;
    const port = pairing?.port;
    setText(this.portNote, port && port.actual !== port.requested ? " " + t("settings.portInUse", port) : "");
    const entry = (k, v) => [h("dt", {}, t(k)), h("dd", {}, h("code", { id: `path-${k.split(".")[1]}` }, v ?? "—"))];
    this.paths.replaceChildren(...entry("settings.log", info.log_dir), ...entry("settings.files", info.settings_file), ...entry("settings.presetsDir", info.presets_dir));
    setText(this.message, "");
    openDialog(this.el); // non-modal: STOP stays clickable (lib/dialog.js)
    if (this.logBox.open) this.showLog();
  }

  async showLog() {
    try {
      const lines = await backend.recentLog();
      setText(this.log, lines.length ? lines.join("\n") : t("settings.logEmpty"));
      this.log.scrollTop = this.log.scrollHeight;
    } catch (e) {
      setText(this.log, words(e));
    }
  }

  async openLogFolder() {
    try {
      await backend.openLogFolder();
    } catch (e) {
      setText(this.message, words(e));
    }
  }

  /** The numbers as typed, or the first refusal in words. */
  read() {
    const fields = [
      ["port", this.port, this.limits.port, "settings.port"],
      ["heartbeatSecs", this.heartbeat, this.limits.heartbeatSecs, "settings.heartbeat"],
      ["capA", this.capA, this.limits.strength, "settings.capA"],
      ["capB", this.capB, this.limits.strength, "settings.capB"],
      ["maxRisePerSec", this.rise, this.limits.maxRisePerSec, "settings.rise"],
    ];
    const out = {};
    for (const [key, input, range, label] of fields) {
      const r = checkInteger(input.value, range, this.settings[key]);
      input.toggleAttribute("aria-invalid", !r.ok);
      if (!r.ok) {
        input.value = this.settings[key];
        input.focus();
        return { error: `${t(label)}: ${r.message}` };
      }
      out[key] = r.value;
    }
    return { values: out };
  }

  async save(e) {
    e.preventDefault();
    const { values, error } = this.read();
    if (error) return setText(this.message, error);
    const next = { ...this.settings, ...values, language: this.language.value, theme: this.theme.value };
    try {
      const view = await backend.saveSettings(next);
      this.settings = view.settings;
      setText(this.message, view.restart_needed ? t("settings.restart") : t("settings.saved"));
      rememberPrefs(window.localStorage, view.settings);
      applyTheme(document.documentElement, view.settings.theme);
      backend.setWindowTheme(view.settings.theme).catch((err) => console.warn("theme:", err));
      if (next.language !== getLanguage()) {
        // Every label is drawn once, at mount: a reload redraws them; what is unsaved is
        // kept for the new page first.
        this.hooks.beforeReload?.();
        location.reload();
      }
    } catch (err) {
      setText(this.message, words(err));
    }
  }
}
