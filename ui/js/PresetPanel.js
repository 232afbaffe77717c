// Presets: built-in and the user's, stored by the core in the app's data folder. Load into
// the editor, save, save as, rename, delete (confirmed), import a pasted share string,
// export (copy) the current pattern's share string.

import { backend, copyText } from "./backend.js";
import { h, setText } from "./lib/dom.js";
import { has, t, words } from "./lib/i18n.js";

/** Where unsaved edits wait while the page reloads (a language switch). */
const STASH_KEY = "dglab.unsavedEdits";

/** A preset's name as shown: built-ins are worded in the user's language (呼吸 = Breath);
 *  the user's own names are theirs. The canonical name stays in data-name. */
export function presetLabel(p) {
  return p.builtin && has(`builtin.${p.name}`) ? t(`builtin.${p.name}`) : p.name;
}

export class PresetPanel {
  constructor(el, editor, dialog) {
    this.el = el;
    this.editor = editor;
    this.dialog = dialog;
    this.current = null; // {name, builtin} of the loaded preset
    this.dirty = false;
    editor.onChange = () => {
      this.dirty = true;
      this.showCurrent();
    };
    this.el.append(
      h("h2", {}, t("presets.title")),
      (this.list = h("div", { class: "preset-panel__list", id: "preset-list" })),
      (this.currentLabel = h("p", { class: "preset-panel__current", id: "preset-current" })),
      h(
        "div",
        { class: "preset-panel__buttons" },
        (this.saveBtn = h("button", { type: "button", id: "preset-save", onclick: () => this.save() }, t("presets.save"))),
        h("button", { type: "button", id: "preset-save-as", onclick: () => this.saveAs() }, t("presets.saveAs")),
        (this.renameBtn = h("button", { type: "button", id: "preset-rename", onclick: () => this.rename() }, t("presets.rename"))),
        (this.deleteBtn = h("button", { type: "button", id: "preset-delete", class: "danger", onclick: () => this.remove() }, t("presets.delete"))),
      ),
      h(
        "form",
        { class: "preset-panel__import", onsubmit: (e) => this.import(e) },
        (this.importText = h("textarea", { id: "import-text", rows: "2", placeholder: t("presets.importPlaceholder"), spellcheck: "false" })),
        h("div", { class: "preset-panel__buttons" },
          h("button", { type: "submit", id: "import-apply" }, t("presets.import")),
          h("button", { type: "button", id: "export-share", onclick: () => this.export() }, t("presets.export")),
        ),
      ),
      (this.message = h("p", { class: "preset-panel__message", id: "preset-message", role: "status" })),
    );
    this.refresh();
    this.showCurrent();
  }

  async refresh(list) {
    try {
      this.render(list ?? (await backend.listPresets()));
    } catch (e) {
      this.say(words(e), true);
    }
  }

  render(list) {
    const item = (p) =>
      h(
        "li",
        { class: `preset-panel__item${this.current?.name === p.name ? " is-selected" : ""}`, "data-name": p.name, "data-builtin": String(p.builtin), role: "option" },
        h("button", { type: "button", class: "preset-panel__load", title: presetLabel(p), onclick: () => this.load(p.name) }, presetLabel(p)),
        h(
          "span",
          { class: "preset-panel__meta" },
          t("unit.seconds", { n: (p.durationMs / 1000).toFixed(1) }),
          p.builtin ? h("span", { class: "preset-panel__tag" }, t("presets.builtin")) : null,
        ),
      );
    const mine = list.filter((p) => !p.builtin);
    const builtins = list.filter((p) => p.builtin);
    this.list.replaceChildren(
      h("h3", { class: "preset-panel__group" }, t("presets.mine")),
      mine.length
        ? h("ul", { class: "preset-panel__items", id: "preset-list-mine", role: "listbox" }, ...mine.map(item))
        : h("p", { class: "preset-panel__empty", id: "preset-list-mine-empty" }, t("presets.noneYet")),
      h("h3", { class: "preset-panel__group" }, t("presets.builtins")),
      h("ul", { class: "preset-panel__items", id: "preset-list-builtin", role: "listbox" }, ...builtins.map(item)),
    );
  }

  /** Brings a preset's row into view inside the scroll box (a new one lands out of sight). */
  reveal(name) {
    const li = [...this.list.querySelectorAll("li[data-name]")].find((el) => el.dataset.name === name);
    li?.scrollIntoView({ block: "nearest" });
  }

  /** Keeps the editor's unsaved state for the next page (see SettingsDialog's reload). */
  stash(storage = window.sessionStorage) {
    if (!this.dirty) return storage.removeItem(STASH_KEY);
    storage.setItem(STASH_KEY, JSON.stringify({ pattern: this.editor.pattern, current: this.current, dirty: true }));
  }

  /** Takes back what stash() kept, once; says so. */
  restore(storage = window.sessionStorage) {
    const raw = storage.getItem(STASH_KEY);
    storage.removeItem(STASH_KEY);
    if (!raw) return false;
    try {
      const saved = JSON.parse(raw);
      this.editor.load(saved.pattern);
      this.current = saved.current ?? null;
      this.dirty = true;
      this.showCurrent();
      this.refresh();
      this.say(t("presets.editsKept"));
      return true;
    } catch {
      return false;
    }
  }

  say(text, error = false) {
    setText(this.message, text);
    this.message.classList.toggle("is-error", error);
  }

  showCurrent() {
    const name = this.current ? presetLabel(this.current) : t("presets.unsaved");
    setText(this.currentLabel, t("presets.current", { name }) + (this.dirty && this.current ? " *" : ""));
    this.saveBtn.disabled = !this.current || this.current.builtin;
    this.renameBtn.disabled = !this.current || this.current.builtin;
    this.deleteBtn.disabled = !this.current || this.current.builtin;
  }

  async load(name) {
    try {
      const p = await backend.getPreset(name);
      this.editor.load(p.pattern);
      this.current = { name: p.name, builtin: p.builtin };
      this.dirty = false;
      this.showCurrent();
      this.refresh();
      this.say("");
    } catch (e) {
      this.say(words(e), true);
    }
  }

  async write(name, overwrite) {
    try {
      const list = await backend.savePreset(name, this.editor.pattern, overwrite);
      this.current = { name, builtin: false };
      this.dirty = false;
      this.showCurrent();
      this.render(list);
      this.reveal(name);
      // Said once, in the panel's own line (a toast too would cover the panel's buttons).
      this.say(t("presets.saved", { name }));
      return true;
    } catch (e) {
      if (e?.kind === "exists" && (await this.dialog.ask(t("presets.overwrite", { name })))) return this.write(name, true);
      this.say(words(e), true);
      return false;
    }
  }

  save() {
    if (this.current && !this.current.builtin) this.write(this.current.name, true);
  }

  async saveAs() {
    const name = await this.dialog.ask(t("presets.namePrompt"), { input: true, value: this.current?.builtin ? "" : this.current?.name ?? "" });
    if (name) this.write(name.trim(), false);
  }

  async rename() {
    if (!this.current) return;
    const to = await this.dialog.ask(t("presets.namePrompt"), { input: true, value: this.current.name });
    if (!to || to.trim() === this.current.name) return;
    try {
      const list = await backend.renamePreset(this.current.name, to.trim());
      this.current = { name: to.trim(), builtin: false };
      this.showCurrent();
      this.render(list);
      this.reveal(this.current.name);
      this.say(t("presets.renamed", { name: this.current.name }));
    } catch (e) {
      this.say(words(e), true);
    }
  }

  async remove() {
    if (!this.current || !(await this.dialog.ask(t("presets.confirmDelete", { name: this.current.name })))) return;
    try {
      const name = this.current.name;
      const list = await backend.deletePreset(name);
      this.current = null;
      this.showCurrent();
      this.render(list);
      this.say(t("presets.deleted", { name }));
    } catch (e) {
      this.say(words(e), true);
    }
  }

  async import(e) {
    e.preventDefault();
    try {
      const imported = await backend.parseShare(this.importText.value);
      this.editor.load(imported.pattern);
      this.current = null;
      this.dirty = true;
      this.showCurrent();
      this.refresh();
      this.say(t("presets.imported", { warnings: imported.warnings.map(words).join(" ") }));
    } catch (err) {
      this.say(words(err), true);
    }
  }

  async export() {
    try {
      const { share } = await backend.expandPattern(this.editor.pattern);
      await copyText(share);
      this.importText.value = share;
      this.say(t("presets.exported"));
    } catch (e) {
      this.say(words(e), true);
    }
  }
}
