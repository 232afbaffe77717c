// The doctor's, the phone test's and the inspector's words: every kind the core sends
// (src/protocol/describe.rs, src/pairing/doctor.rs, src/pairing/firewall.rs) is worded in
// both languages, and params fill the sentences.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { STRINGS, setLanguage } from "../../ui/js/lib/i18n.js";
import { attemptText, firewallText, jsonLines, meaningText, rankText, verdictText } from "../../ui/js/lib/diagnosis.js";

const rust = (rel) => readFileSync(new URL(`../../src/${rel}`, import.meta.url), "utf8");

/** The snake_case names of an enum's variants, read from the Rust source. */
function variants(source, name) {
  const body = source.split(`pub enum ${name} {`)[1].split("\n}\n")[0];
  const snake = (s) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  return [...body.matchAll(/^ {4}(?:#\[serde\(rename = "(\w+)"\)\]\n {4})?([A-Z]\w*)/gm)].map((m) => m[1] ?? snake(m[2]));
}

test("every kind the core sends is worded in both languages", () => {
  const doctor = rust("pairing/doctor.rs");
  const sets = {
    "meaning.": variants(rust("protocol/describe.rs"), "Meaning"),
    "doctor.reason.": variants(doctor, "RankReason"),
    "doctor.test.": variants(doctor, "SelfTest"),
    "doctor.url.": variants(doctor, "UrlHint"),
    "doctor.verdict.": variants(doctor, "Verdict"),
    "doctor.kind.": variants(doctor, "InterfaceKind"),
    "doctor.scope.": variants(doctor, "AddressScope"),
    "doctor.fw.": variants(rust("pairing/firewall.rs"), "FirewallFinding"),
    "doctor.firewall.": variants(rust("pairing/firewall.rs"), "FirewallVerdict"),
  };
  assert.ok(sets["meaning."].length >= 20, sets["meaning."].join());
  assert.ok(sets["doctor.kind."].includes("wifi"));
  for (const lang of ["en", "zh"]) {
    for (const [prefix, kinds] of Object.entries(sets)) {
      for (const k of kinds) assert.ok(`${prefix}${k}` in STRINGS[lang], `${lang}: ${prefix}${k}`);
    }
  }
});

test("meanings are worded from kind and params", () => {
  setLanguage("en");
  assert.equal(meaningText({ kind: "strength_set", params: { channel: "A", value: 20 } }), "A set to 20");
  assert.equal(meaningText({ kind: "pulse", params: { channel: "B", frames: 4, ms: 400 } }), "pulse B: 4 frames, 400 ms");
  assert.equal(meaningText({ kind: "bind_refused", params: { code: 404, reason: "not_found" } }), "bind refused: 404 ids not owned by the sender");
  assert.equal(meaningText({ kind: "http_refused", params: { status: 426, path: "/x" } }), "HTTP 426 for /x: a browser opened the App's WebSocket address; scan it with the DG-LAB App instead");
  assert.equal(meaningText({ kind: "heartbeat" }), "heartbeat");
  setLanguage("zh");
  assert.equal(meaningText({ kind: "strength_report", params: { a: 10, b: 0, limit_a: 200, limit_b: 200 } }), "App 报告 A 10/200 B 0/200");
  setLanguage("en");
});

test("attempts, ranks, verdicts and the firewall read as sentences", () => {
  setLanguage("en");
  const at_ms = new Date(2026, 0, 1, 12, 34, 56).getTime();
  assert.equal(attemptText({ at_ms, kind: "reached", from: "192.168.1.40:5000", params: { user_agent: "Phone" } }), "12:34:56 192.168.1.40:5000: opened the test page (Phone).");
  assert.match(attemptText({ at_ms, kind: "reached", from: "127.0.0.1:1", params: { user_agent: "dglab-doctor", self_test: true } }), /the doctor's own test/);
  assert.match(attemptText({ at_ms, kind: "bind", from: null, params: { code: 401, reason: "terminal_not_connected" } }), /pairing refused, code 401: the terminal is not connected/);
  assert.match(attemptText({ at_ms, kind: "http_refused", from: "a", params: { status: 400, path: "" } }), /HTTP 400 for —: not a valid request/);
  assert.equal(rankText(1), "in the QR code");
  assert.equal(rankText(null), "never in the QR code");
  assert.match(verdictText({ kind: "ready", params: { addr: "192.168.1.5", interface: "wlan0", firewall_blocks: true } }), /wlan0 should reach 192\.168\.1\.5\. But the firewall/);
  assert.equal(firewallText({ kind: "cannot_tell", params: { tool: "ufw", reason: "needs_admin" } }, 9999), "ufw: cannot tell (needs administrator rights to read).");
  assert.equal(firewallText({ kind: "ufw_blocks", params: { rule: "default deny (incoming)" } }, 9999), "ufw blocks the port (default deny (incoming)): sudo ufw allow 9999/tcp");
});

test("the export is one JSON object per line", () => {
  const text = jsonLines([{ a: 1 }, { b: "x\ny" }]);
  assert.deepEqual(text.trimEnd().split("\n").map((l) => JSON.parse(l)), [{ a: 1 }, { b: "x\ny" }]);
  assert.equal(jsonLines([]), "");
});
