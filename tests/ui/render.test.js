// Every visible string of the window exists in both languages, checked on what the
// components really draw: each component is mounted on a tiny fake DOM with a fake
// backend (answers shaped like tests/ui/contract.json), fed events of every kind, and the
// text and visible attributes it produced are read back. In Chinese no Latin word may show
// that the Chinese dictionary does not itself use (App, DG-LAB, A/B…) or that is not data
// (addresses, names, paths); in English no Chinese character the English dictionary does
// not use ("中文", the language's own name).

import { test } from "node:test";
import assert from "node:assert/strict";
import { CONTRACT } from "./contract-data.js";

// ---- a DOM just big enough for the components ---------------------------------------

class FakeNode {
  parentNode = null;
  remove() {
    const p = this.parentNode;
    if (p) p.childNodes.splice(p.childNodes.indexOf(this), 1);
    this.parentNode = null;
  }
}

class FakeText extends FakeNode {
  constructor(data) {
    super();
    this.data = data;
  }
  get textContent() {
    return this.data;
  }
}

const noop = () => {};
const ctx2d = new Proxy({}, { get: () => noop, set: () => true });

class FakeElement extends FakeNode {
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    this.childNodes = [];
    this.attrs = new Map();
    this.listeners = {};
    this.dataset = {};
    this.style = { setProperty() {} };
    this.classes = new Set();
    this.classList = {
      toggle: (c, on = !this.classes.has(c)) => (on ? this.classes.add(c) : this.classes.delete(c)),
      add: (c) => this.classes.add(c),
      remove: (c) => this.classes.delete(c),
      contains: (c) => this.classes.has(c),
    };
    Object.assign(this, { hidden: false, disabled: false, value: "", checked: false, open: false });
    Object.assign(this, { width: 0, height: 0, clientWidth: 320, clientHeight: 120 });
  }
  setAttribute(k, v) {
    this.attrs.set(k, String(v));
    if (k === "value") this.value = String(v);
    if (k === "hidden") this.hidden = true;
  }
  getAttribute(k) {
    return this.attrs.get(k) ?? null;
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  insert(n, i) {
    const node = n instanceof FakeNode ? n : new FakeText(String(n));
    node.remove();
    node.parentNode = this;
    this.childNodes.splice(i, 0, node);
  }
  append(...nodes) {
    for (const n of nodes) this.insert(n, this.childNodes.length);
  }
  prepend(...nodes) {
    nodes.reverse().forEach((n) => this.insert(n, 0));
  }
  replaceChildren(...nodes) {
    for (const c of [...this.childNodes]) c.remove();
    this.append(...nodes);
  }
  get children() {
    return this.childNodes.filter((n) => n instanceof FakeElement);
  }
  get firstChild() {
    return this.childNodes[0] ?? null;
  }
  get lastChild() {
    return this.childNodes.at(-1) ?? null;
  }
  get textContent() {
    return this.childNodes.map((c) => c.textContent).join("");
  }
  set textContent(s) {
    this.replaceChildren();
    if (String(s) !== "") this.append(String(s));
  }
  querySelectorAll() {
    return [];
  }
  getContext() {
    return ctx2d;
  }
  getBoundingClientRect() {
    return { left: 0, top: 0, width: this.clientWidth, height: this.clientHeight };
  }
  matches() {
    return false;
  }
  showModal() {
    this.open = true;
  }
  show() {
    this.open = true;
  }
  close() {
    this.open = false;
  }
  setPointerCapture() {}
  select() {}
  focus() {}
}

const docListeners = {};
const document = {
  createElement: (tag) => new FakeElement(tag),
  body: new FakeElement("body"),
  documentElement: new FakeElement("html"),
  activeElement: null,
  addEventListener: (type, fn) => (docListeners[type] ??= []).push(fn),
  dispatchEvent: (ev) => (docListeners[ev.type] ?? []).forEach((fn) => fn(ev)),
  querySelector: () => null,
  querySelectorAll: () => [],
  execCommand: noop,
};

// ---- a backend answering like the shell ----------------------------------------------

const LIMITS = {
  port: { min: 1, max: 65535 },
  heartbeatSecs: { min: 5, max: 600 },
  strength: { min: 0, max: 200 },
  maxRisePerSec: { min: 1, max: 200 },
};
const SETTINGS = {
  settings: { port: 9999, heartbeatSecs: 60, capA: 50, capB: 60, maxRisePerSec: 10, preferredAddress: null, language: "zh" },
  restart_needed: true,
  limits: LIMITS,
};
const CHANNEL = (ch) => ({ channel: ch, target: 3, level: 2, ceiling: 50, ramping: true, follow: false });
const STRENGTH = { app: "a0a0a0a0-0000-4000-8000-000000000000", latched: false, lease_lapsed: false, caps: [50, 60], report: { a: 2, b: 0, limit_a: 90, limit_b: 80 }, channels: [CHANNEL("A"), CHANNEL("B")] };
const PATTERN = { rest: 0, playRate: 1, balance: 8, sections: [{ freqA: 20, freqB: 20, duration: 9, mode: "sectionRamp", enabled: true, points: [{ value: "0", anchor: true }, { value: "100", anchor: false }] }] };
const DATA = {
  app_info: { version: "0.1.0", log_dir: "/data/logs", settings_file: "/config/settings.json", presets_dir: "/data", shortcuts: ["Pause", "CommandOrControl+Shift+Space"], lease_ms: 2000, notices: [{ kind: "settings_recovered", params: { moved_to: "/config/settings.json.corrupt-1" } }] },
  list_connections: [
    { id: "1f0e2d3c-0000-4000-8000-000000000001", role: "local", remote: null, connected_since_ms: 0, rtt_ms: null, paired_with: "1f0e2d3c-0000-4000-8000-000000000002", ours: true },
    { id: "1f0e2d3c-0000-4000-8000-000000000002", role: "app", remote: "192.168.1.3:50000", connected_since_ms: 0, rtt_ms: 0.4, paired_with: "1f0e2d3c-0000-4000-8000-000000000001", ours: false },
    { id: "1f0e2d3c-0000-4000-8000-000000000003", role: "unknown", remote: "192.168.1.4:50001", connected_since_ms: 0, rtt_ms: 12, paired_with: null, ours: false },
  ],
  pairing_info: { app: "socket", url: "https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#ws://192.168.1.2:10000/1f0e2d3c", svg: "<svg/>", base: "ws://192.168.1.2:10000", chosen: "192.168.1.2", addresses: [{ addr: "192.168.1.2", interface: "eth0", tier: "lan" }], loopback_only: true, port: { requested: 9999, actual: 10000, reason: "busy" } },
  strength_state: STRENGTH,
  get_settings: SETTINGS,
  save_settings: SETTINGS,
  pattern_limits: CONTRACT.pattern_limits,
  expand_pattern: { frames: [{ freq: [10, 20, 30, 40], intensity: [0, 25, 50, 100] }], duration_ms: 1200, share: "Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,100-0" },
  list_presets: [{ name: "呼吸", builtin: true, durationMs: 2300, editable: true }, { name: "我的波形", builtin: false, durationMs: 900, editable: true }],
  get_preset: { name: "我的波形", builtin: false, pattern: PATTERN },
  parse_share: { pattern: PATTERN, warnings: [{ kind: "share_empty_point", params: { at: 31 } }, { kind: "share_out_of_range", params: { at: 20, field: "rest", text: "300", used: 100 } }] },
  renew_lease: null,
  // DG-LAB App 4.x: our controller with an App that reported two slots, another controller's App.
  v4_apps: [
    { id: "3f9a1c07", ours: true, remote: null, connected_since_ms: 1700000000000, rtt_ms: null, apps: [
      { id: "b71e02d4", remote: "192.168.1.7:50312", connected_since_ms: 1700000000000, rtt_ms: 12.5, devices: [
        { slot_id: "s1", name: "郊狼 3.0", kind: "COYOTE_030", connected: true, battery: 76, strength: [7, 0], limit: [50, null] },
        { slot_id: "s2", name: "OVC", kind: "OVC_1", connected: false, battery: null, strength: [null, null], limit: [null, null] },
      ] },
      { id: "c0ffee00", remote: "192.168.1.8:50313", connected_since_ms: 1700000000000, rtt_ms: null, devices: null },
    ] },
    { id: "0badf00d", ours: false, remote: "192.168.1.9:40000", connected_since_ms: 1700000000000, rtt_ms: 3, apps: [
      { id: "deadbeef", remote: "192.168.1.10:40001", connected_since_ms: 1700000000000, rtt_ms: null, devices: null },
    ] },
  ],
  recent_log: ["2026-12-02 07:00:00 INFO relay listening on 0.0.0.0:10000"],
  stop_status: { cause: "stop", apps: [{ app: "b1b1b1b1-0000-4000-8000-000000000001", state: "waiting" }, { app: "b1b1b1b1-0000-4000-8000-000000000002", state: "confirmed" }, { app: "b1b1b1b1-0000-4000-8000-000000000003", state: "left" }], confirmed_unnamed: 2, failures: 0 },
  recent_safety_events: [{ at_ms: 1700000000000, notice: { kind: "app_above_limit", params: { channel: "A", reported: 80, to: 0, allowed: 0 } } }],
};
// Tauri's own rejection of an argument, as the shell's mock-runtime test pins it.
const REJECT = {
  set_pairing_address: "invalid args `choice` for command `set_pairing_address`: invalid type: integer `1`, expected a string",
  play_waveform: { kind: "stopped", params: {} },
  save_preset: { kind: "invalid_name", params: { name: "  " } },
};

const handlers = {};
const tauri = {
  core: {
    invoke: (cmd) => {
      assert.ok(cmd in CONTRACT.commands, `the fake backend was asked for ${cmd}, which the shell lacks`);
      if (cmd in REJECT) return Promise.reject(REJECT[cmd]);
      return Promise.resolve(structuredClone(DATA[cmd] ?? null));
    },
  },
  event: {
    listen: (name, fn) => {
      assert.ok(name in CONTRACT.events, `listening to ${name}, which the shell never emits`);
      (handlers[name] ??= []).push(fn);
      return Promise.resolve(noop);
    },
  },
};
const fire = (name, payload) => (handlers[name] ?? []).forEach((fn) => fn({ payload: structuredClone(payload) }));

// Every string the fake backend hands over is data, shown as is.
const dataStrings = new Set();
(function collect(v) {
  if (typeof v === "string") {
    dataStrings.add(v);
    if (/^[0-9a-f]{8}-/.test(v)) dataStrings.add(v.slice(0, 8)); // ids show shortened
  }
  else if (v && typeof v === "object") Object.values(v).forEach(collect);
})([DATA, REJECT]);

// ---- globals, then the components ----------------------------------------------------

const realSetTimeout = globalThis.setTimeout;
const realSetInterval = globalThis.setInterval;
globalThis.setTimeout = (fn, ms) => realSetTimeout(fn, ms).unref();
globalThis.setInterval = (fn, ms) => realSetInterval(fn, ms).unref();
globalThis.Node = FakeNode;
globalThis.document = document;
globalThis.window = { __TAURI__: tauri, devicePixelRatio: 1 };
globalThis.getComputedStyle = () => ({ getPropertyValue: () => "" });
globalThis.ResizeObserver = class {
  observe() {}
};
Object.defineProperty(globalThis, "navigator", { value: { platform: "Linux x86_64", clipboard: { writeText: async () => {} } }, configurable: true });
globalThis.console.warn = noop; // backend.js logs Tauri's raw rejection; not under test

const i18n = await import("../../ui/js/lib/i18n.js");
const { STRINGS, setLanguage, words } = i18n;

async function mountAll(lang) {
  setLanguage(lang);
  for (const k of Object.keys(handlers)) delete handlers[k];
  for (const k of Object.keys(docListeners)) delete docListeners[k];
  const m = async (file) => import(`../../ui/js/${file}.js`);
  const root = new FakeElement("main");
  const el = () => {
    const e = new FakeElement("section");
    root.append(e);
    return e;
  };
  const { Toasts } = await m("Toasts");
  const { EmergencyStop } = await m("EmergencyStop");
  const { QrPanel } = await m("QrPanel");
  const { StrengthSliders } = await m("StrengthSliders");
  const { WaveformEditor } = await m("WaveformEditor");
  const { PresetPanel } = await m("PresetPanel");
  const { FeedbackList } = await m("FeedbackList");
  const { ConnectionTable } = await m("ConnectionTable");
  const { SettingsDialog } = await m("SettingsDialog");
  const { ConfirmDialog } = await m("ConfirmDialog");
  const { SafetyLog } = await m("SafetyLog");
  const { notify } = await m("lib/dom");
  const { PairingStatus } = await m("PairingStatus");
  const { V4AppTable } = await m("V4AppTable");

  new Toasts(el());
  const estop = new EmergencyStop(el(), DATA.app_info.lease_ms);
  const qr = new QrPanel(el());
  new StrengthSliders(el(), SETTINGS.settings, LIMITS);
  const editor = new WaveformEditor(el(), CONTRACT.pattern_limits);
  const dialog = new ConfirmDialog(el());
  const presets = new PresetPanel(el(), editor, dialog);
  new FeedbackList(el());
  new SafetyLog(el());
  new ConnectionTable(el());
  const settings = new SettingsDialog(el(), LIMITS);
  new PairingStatus(el());
  new V4AppTable(el());
  await tick();

  estop.setShortcuts(DATA.app_info.shortcuts);
  for (const n of DATA.app_info.notices) notify(words(n), "error");
  qr.choose("192.168.1.2"); // rejected by "Tauri": worded as invalid_args
  await presets.load("我的波形");
  presets.importText.value = "Dungeonlab+pulse:…";
  await presets.import({ preventDefault: noop });
  await editor.play(); // rejected: stopped
  await settings.open();
  editor.showProgress({ channel: "A", state: "failed", error: { kind: "watchdog", params: {} }, pass_frames: 12, position: 3, loops: 0 });
  editor.showProgress({ channel: "B", state: "playing", error: null, pass_frames: 12, position: 3, loops: 1 });
  fire("terminal:event", { kind: "feedback", index: 7, channel: "B", position: 2 });
  fire("terminal:event", { kind: "app_left", app: STRENGTH.app });
  fire("relay:connections", DATA.list_connections);
  fire("safety:state", STRENGTH);
  fire("safety:stop", { cause: "watchdog", apps: [], confirmed_unnamed: 0, failures: 0 });
  fire("safety:state", { ...STRENGTH, latched: true });
  // Every kind, with every param any kind names: a placeholder left unfilled shows too.
  const params = { channel: "A", asked: 80, to: 40, from: 0, reported: 80, allowed: 40, cap_a: 10, cap_b: 20, apps: 1, failures: 0, at: 3, text: "300", used: 100, found: 2, field: "play_rate", moved_to: "/config/settings.json.corrupt-1", value: 300, max: 200, min: 0, frames: 120, code: 405, setting: "rise", rule: "query", reason: "no_section", what: "presets", url: "ws://192.168.1.2:10000", name: "我的波形", names: "我的波形", path: "/data/logs" };
  for (const kind of CONTRACT.kinds) fire("safety:event", { kind, params });
  dialog.ask("?", { input: true, value: "我的波形" });
  await tick();
  return root;
}

const tick = () => new Promise((r) => realSetTimeout(r, 80));

/** Every visible string under `node`: text, and the attributes a person sees or hears. */
function visible(node, out = []) {
  if (node instanceof FakeText) out.push(node.data);
  else if (node instanceof FakeElement) {
    for (const a of ["title", "placeholder", "aria-label", "alt"]) if (node.attrs.has(a)) out.push(node.attrs.get(a));
    node.childNodes.forEach((c) => visible(c, out));
  }
  return out;
}

function stripData(text) {
  let s = text;
  for (const d of [...dataStrings].sort((a, b) => b.length - a.length)) if (d.length > 1) s = s.split(d).join(" ");
  return s;
}

/** A dictionary entry without its {placeholders} (their names are not shown). */
const unplaced = (s) => s.replace(/\{\w+\}/g, " ");
const latinWords = (s) => s.match(/[A-Za-z]+/g) ?? [];
const cjk = (s) => s.match(/[\u3400-\u9fff]/g) ?? [];
// The same in both languages: SI unit symbols, and key names as printed on the keys.
const UNIVERSAL = ["Hz", "ms", "Esc", "Ctrl", "Shift", "Space", "Pause"];

test("in Chinese, nothing visible is an English word the Chinese table does not use itself", async () => {
  const root = await mountAll("zh");
  const allowed = new Set([...Object.values(STRINGS.zh).map(unplaced).flatMap(latinWords), ...UNIVERSAL]);
  const texts = visible(root).concat(visible(document.body));
  assert.ok(texts.join("").includes("急停"), "the components drew in Chinese");
  const stray = new Set();
  for (const t of texts) for (const w of latinWords(stripData(t))) if (!allowed.has(w)) stray.add(`${w} (in "${t}")`);
  assert.deepEqual([...stray], []);
});

test("in English, nothing visible is Chinese the English table does not use itself", async () => {
  const root = await mountAll("en");
  const allowed = new Set(Object.values(STRINGS.en).map(unplaced).flatMap(cjk));
  const texts = visible(root);
  assert.ok(texts.join("").includes("STOP"), "the components drew in English");
  const stray = new Set();
  for (const t of texts) for (const c of cjk(stripData(t))) if (!allowed.has(c)) stray.add(`${c} (in "${t}")`);
  assert.deepEqual([...stray], []);
});

test("built-in presets show English names in English and apart from the user's; the status line is lasting words", async () => {
  const root = await mountAll("en");
  const texts = visible(root);
  assert.ok(texts.includes("Breath"), "呼吸 is Breath in English");
  assert.ok(!texts.includes("呼吸"), "no built-in name left in Chinese");
  assert.ok(texts.includes("My presets") && texts.includes("Built-in"));
  assert.ok(texts.some((t) => t.startsWith("Phone connected")), texts.filter((t) => t.startsWith("Phone")).join());
  const zh = visible(await mountAll("zh"));
  assert.ok(zh.includes("呼吸") && zh.includes("内置预设") && zh.some((t) => t.startsWith("手机已连接")));
});

test("the 4.x table lists each App with its slots, under our controller or another's", async () => {
  const root = await mountAll("en");
  const texts = visible(root);
  for (const want of [
    "郊狼 3.0 (COYOTE_030) · A 7/50 · B 0/— · battery 76 %",
    "OVC (OVC_1) · A —/— · B —/— · box not connected",
    "waiting for its device list…",
    "(another controller's App)",
    "this window",
    "0badf00d",
  ]) {
    assert.ok(texts.includes(want), `missing ${want}`);
  }
});
