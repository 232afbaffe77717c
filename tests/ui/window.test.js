// The window as a new user meets it (issue 12), the parts node can check: the start-up
// state is in the page itself, prefs are remembered, the pairing status reads the relay
// snapshot, and Copy goes through Tauri's clipboard plugin.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const calls = [];
globalThis.window = {
  __TAURI__: {
    core: { invoke: (cmd, args) => (calls.push([cmd, args]), Promise.resolve(null)) },
    event: { listen: () => Promise.resolve(() => {}) },
  },
};

const html = readFileSync(new URL("../../ui/index.html", import.meta.url), "utf8");

test("the page starts in a start-up state that boot.js words before the backend answers", () => {
  assert.match(html, /<body class="is-starting">/);
  assert.match(html, /id="startup"[^>]*>.*data-i18n-text="app\.starting"/);
  assert.match(html, /id="pairing-status"[^>]*data-i18n-text="status\.starting"/);
  // boot.js runs on its own (async), not after main.js's awaits.
  assert.match(html, /<script type="module" async src="js\/boot\.js"><\/script>\s*<script type="module" src="js\/main\.js">/);
  const css = readFileSync(new URL("../../ui/styles/layout.css", import.meta.url), "utf8");
  assert.match(css, /body\.is-starting \.layout \{ display: none; \}/, "no empty boxes while starting");
  const main = readFileSync(new URL("../../ui/js/main.js", import.meta.url), "utf8");
  assert.match(main, /classList\.remove\("is-starting"\)/);
});

test("the binding table comes right after the strength panel (above the fold)", () => {
  const order = ["strength-sliders", "connection-table", "waveform-editor"].map((c) => html.indexOf(`class="${c} card"`));
  assert.ok(order[0] > 0 && order[0] < order[1] && order[1] < order[2], order.join());
});

test("language and theme are remembered for the next start-up state", async () => {
  const { cachedPrefs, rememberPrefs, applyTheme } = await import("../../ui/js/lib/prefs.js");
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  assert.deepEqual(cachedPrefs(storage), { language: "en", theme: "system" });
  rememberPrefs(storage, { language: "zh", theme: "light", port: 1 });
  assert.deepEqual(cachedPrefs(storage), { language: "zh", theme: "light" });
  store.set("dglab.prefs", "{broken");
  assert.deepEqual(cachedPrefs(storage), { language: "en", theme: "system" });
  const root = { dataset: {} };
  applyTheme(root, "dark");
  assert.equal(root.dataset.theme, "dark");
  applyTheme(root, "purple");
  assert.equal(root.dataset.theme, "system");
});

test("the pairing status is our row's pairing in the relay snapshot", async () => {
  const { pairingOf, v4AppsOf } = await import("../../ui/js/PairingStatus.js");
  assert.deepEqual(pairingOf([]), { connected: false, app: null });
  assert.deepEqual(pairingOf([{ id: "t", ours: true, paired_with: null }, { id: "a", role: "app", paired_with: null }]), { connected: false, app: null });
  assert.deepEqual(pairingOf([{ id: "t", ours: true, paired_with: "a" }, { id: "a", role: "app", paired_with: "t" }]), { connected: true, app: "a" });
  // Another terminal's pairing is not ours.
  assert.deepEqual(pairingOf([{ id: "t", ours: true, paired_with: null }, { id: "x", role: "terminal", paired_with: "a" }]), { connected: false, app: null });
  // A 4.x App on our V4 controller is said apart.
  assert.equal(v4AppsOf([]), 0);
  assert.equal(v4AppsOf([{ ours: false, apps: [{ id: "a" }] }, { ours: true, apps: [] }]), 0, "another controller's Apps are not ours");
  assert.equal(v4AppsOf([{ ours: true, apps: [{ id: "a" }, { id: "b" }] }]), 2);
});

test("Copy writes through the clipboard plugin, which the window is allowed to use", async () => {
  const { copyText } = await import("../../ui/js/backend.js");
  await copyText("Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,100-1");
  assert.deepEqual(calls.at(-1), ["plugin:clipboard-manager|write_text", { text: "Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,100-1" }]);
  const caps = JSON.parse(readFileSync(new URL("../../src-tauri/capabilities/main.json", import.meta.url), "utf8"));
  assert.ok(caps.permissions.includes("clipboard-manager:allow-write-text"));
  assert.ok(!caps.permissions.some((p) => /clipboard-manager:allow-read/.test(p)), "the window never reads the clipboard");
});
