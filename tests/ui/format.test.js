import { test } from "node:test";
import assert from "node:assert/strict";
import {
  shortId,
  formatDuration,
  formatRtt,
  roleKey,
  tenthsToSeconds,
  formatStrength,
  formatClock,
  shortcutLabel,
} from "../../ui/js/lib/format.js";

test("shortId keeps 8 characters", () => {
  assert.equal(shortId("1f0e2d3c-0000-4000-8000-000000000000"), "1f0e2d3c");
  assert.equal(shortId(null), "—");
});

test("formatDuration", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(999), "0:00");
  assert.equal(formatDuration(65_000), "1:05");
  assert.equal(formatDuration(3_725_000), "1:02:05");
  assert.equal(formatDuration(-5), "0:00");
  assert.equal(formatDuration(undefined), "0:00");
});

test("formatRtt", () => {
  assert.equal(formatRtt(null), "—");
  assert.equal(formatRtt(0.3), "<1 ms");
  assert.equal(formatRtt(12.6), "13 ms");
});

test("roleKey", () => {
  assert.equal(roleKey("app", false), "role.app");
  assert.equal(roleKey("terminal", false), "role.terminal");
  assert.equal(roleKey("local", true), "role.ours");
  assert.equal(roleKey("local", false), "role.local");
  assert.equal(roleKey("unknown", false), "role.unknown");
});

test("tenthsToSeconds", () => {
  assert.equal(tenthsToSeconds(1), "0.1");
  assert.equal(tenthsToSeconds(25), "2.5");
});

test("formatStrength and formatClock", () => {
  assert.equal(formatStrength(0), "0");
  assert.equal(formatStrength(undefined), "—");
  assert.equal(formatClock(new Date(2024, 0, 1, 9, 5, 3)), "09:05:03");
});

test("shortcutLabel", () => {
  assert.equal(shortcutLabel("CommandOrControl+Shift+Space"), "Ctrl+Shift+Space");
  assert.equal(shortcutLabel("CommandOrControl+Shift+Space", true), "⌘+Shift+Space");
  assert.equal(shortcutLabel("Pause"), "Pause");
});

test("the App's frequency value reads as a period in ms with its rate as a hint", async () => {
  const { periodOption, restSeconds } = await import("../../ui/js/lib/format.js");
  assert.deepEqual(periodOption(10), { ms: 10, hz: "100" });
  assert.deepEqual(periodOption(20), { ms: 20, hz: "50" });
  assert.deepEqual(periodOption(233), { ms: 233, hz: "4.3" });
  assert.deepEqual(periodOption(1000), { ms: 1000, hz: "1" });
  // Bigger = slower.
  assert.ok(Number(periodOption(500).hz) < Number(periodOption(50).hz));
  assert.equal(restSeconds(0), "0.0");
  assert.equal(restSeconds(35), "0.4");
  assert.equal(restSeconds(100), "1.0");
});
