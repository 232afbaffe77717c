// Every visible string exists in English and Chinese: the two dictionaries match, every
// kind the backend may send is worded, every key the code names exists, and neither the
// page nor the components carry literal text that bypasses i18n.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { STRINGS, WORDED_PARAMS, t, setLanguage, words } from "../../ui/js/lib/i18n.js";
import { toNotice } from "../../ui/js/lib/notice.js";
import { CONTRACT } from "./contract-data.js";

const UI = new URL("../../ui/", import.meta.url);
const read = (rel) => readFileSync(new URL(rel, UI), "utf8");
const jsFiles = (dir = "js/") =>
  readdirSync(new URL(dir, UI), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(`${dir}${e.name}/`) : e.name.endsWith(".js") ? [`${dir}${e.name}`] : [],
  );

test("English and Chinese have the same keys and placeholders", () => {
  const en = Object.keys(STRINGS.en).sort();
  assert.deepEqual(Object.keys(STRINGS.zh).sort(), en);
  const holes = (s) => (s.match(/\{\w+\}/g) ?? []).sort().join();
  for (const k of en) assert.equal(holes(STRINGS.zh[k]), holes(STRINGS.en[k]), k);
  for (const k of en) assert.notEqual(STRINGS.zh[k].trim(), "", k);
});

test("t fills placeholders and switches language", () => {
  setLanguage("en");
  assert.equal(t("qr.portBusy", { requested: 9999, actual: 10000 }), "Port 9999 is busy, so the relay listens on 10000; it keeps that port next time.");
  setLanguage("zh");
  assert.equal(t("estop.button"), "急停");
  setLanguage("xx");
  assert.equal(t("estop.button"), "STOP");
  assert.equal(t("no.such.key"), "no.such.key");
});

test("every kind the backend may send is worded in both languages", () => {
  assert.ok(CONTRACT.kinds.length > 20);
  for (const lang of ["en", "zh"]) {
    for (const kind of CONTRACT.kinds) assert.ok(`msg.${kind}` in STRINGS[lang], `${lang}: msg.${kind}`);
    for (const [param, values] of Object.entries(CONTRACT.worded_params)) {
      for (const v of values) assert.ok(`${param}.${v}` in STRINGS[lang], `${lang}: ${param}.${v}`);
    }
  }
  assert.deepEqual([...WORDED_PARAMS].sort(), Object.keys(CONTRACT.worded_params).sort());
  // No wording for a kind the backend no longer sends.
  const msgKeys = Object.keys(STRINGS.en).filter((k) => k.startsWith("msg.")).map((k) => k.slice(4));
  assert.deepEqual(msgKeys.sort(), [...CONTRACT.kinds].sort());
});

test("notices are worded from kind and params, worded params too", () => {
  setLanguage("en");
  assert.equal(
    words({ kind: "clamped_cap", params: { channel: "A", asked: 80, to: 40 } }),
    "A: asked 80, limited to 40 by your cap.",
  );
  assert.equal(words({ kind: "invalid_url", params: { url: "http://x", rule: "scheme" } }), "http://x cannot be used: it must start with ws:// or wss://.");
  assert.equal(words({ kind: "invalid_setting", params: { setting: "port", min: 1, max: 65535 } }), "The relay port must be between 1 and 65535.");
  setLanguage("zh");
  assert.equal(words({ kind: "stopped", params: {} }), "急停中：请先解除急停，再调节强度或播放。");
  assert.equal(words({ kind: "ramping", params: { channel: "B", from: 0, to: 37 } }), "B：从 0 平缓上升到 37。");
  assert.equal(words("garbage"), STRINGS.zh["msg.invalid_args"]);
  setLanguage("en");
});

test("a Tauri argument error becomes invalid_args; a shell error passes through", () => {
  assert.deepEqual(toNotice({ kind: "not_paired", params: {} }, "set_strength"), { kind: "not_paired", params: {} });
  assert.deepEqual(toNotice({ kind: "busy" }, "x"), { kind: "busy", params: {} });
  // The text Tauri 2 rejects with (src-tauri/tests/contract.rs checks it still does).
  const raw = "invalid args `value` for command `set_strength`: invalid value: integer `300`, expected u8";
  assert.deepEqual(toNotice(raw, "set_strength"), { kind: "invalid_args", params: { command: "set_strength", arg: "value" } });
  assert.deepEqual(toNotice(new Error("boom"), "rearm"), { kind: "invalid_args", params: { command: "rearm", arg: "" } });
  setLanguage("zh");
  assert.doesNotMatch(words(toNotice(raw, "set_strength")), /invalid|expected/);
  setLanguage("en");
});

test("every key the code names exists", () => {
  const keys = new Set(Object.keys(STRINGS.en));
  for (const file of jsFiles()) {
    const src = read(file);
    for (const m of src.matchAll(/\bt\(\s*"([\w.]+)"/g)) assert.ok(keys.has(m[1]), `${file}: t("${m[1]}")`);
    // Keys built from a prefix: some key must start with it.
    for (const m of src.matchAll(/\bt\(\s*`([\w.]+)\$\{/g)) {
      assert.ok([...keys].some((k) => k.startsWith(m[1])), `${file}: t(\`${m[1]}…\`)`);
    }
  }
  const html = read("index.html");
  const named = [...html.matchAll(/data-i18n-[\w-]+="([\w.]+)"/g)].map((m) => m[1]);
  assert.ok(named.length >= 5);
  for (const k of named) assert.ok(keys.has(k), `index.html: ${k}`);
});

const LETTERS = /[A-Za-z\u4e00-\u9fff]/;
// Words that are the same in both languages: the product's and the vendor's names, units.
const SAME_IN_BOTH = /DG-LAB Hub|DG-LAB|Hz/g;

test("index.html carries no text of its own but the product name", () => {
  const html = read("index.html")
    .replace(/<head>[\s\S]*<\/head>/, "")
    .replace(/<script[\s\S]*?<\/script>/g, "");
  for (const m of html.matchAll(/\s(aria-label|title|placeholder|alt)="([^"]*)"/g)) {
    assert.ok(!LETTERS.test(m[2]), `index.html: ${m[1]}="${m[2]}" bypasses i18n (use data-i18n-${m[1]})`);
  }
  const text = html.replace(/<[^>]*>/g, " ").replace(SAME_IN_BOTH, "");
  assert.ok(!LETTERS.test(text), `index.html text bypasses i18n: ${text.trim()}`);
});

test("the components put no literal words in visible attributes or text", () => {
  for (const file of jsFiles()) {
    if (file.endsWith("lib/i18n.js")) continue;
    const src = read(file);
    for (const m of src.matchAll(/(?:"aria-label"|\btitle|\bplaceholder|\balt):\s*"([^"]*)"/g)) {
      assert.ok(!LETTERS.test(m[1]), `${file}: literal "${m[1]}" in a visible attribute`);
    }
    // The last argument of h(...) or setText(...) as a bare string literal.
    for (const m of src.matchAll(/\b(?:h\([^()]*|setText\([^,()]+),\s*"([^"]*)"\s*\)/g)) {
      assert.ok(!LETTERS.test(m[1].replace(SAME_IN_BOTH, "")), `${file}: literal text "${m[1]}"`);
    }
  }
});
