import { test } from "node:test";
import assert from "node:assert/strict";
import { STRINGS, t, setLanguage } from "../../ui/js/lib/i18n.js";
import { feedbackButton } from "../../ui/js/lib/feedback.js";
import { describeSafety } from "../../ui/js/lib/safety-text.js";

test("English and Chinese have the same keys and placeholders", () => {
  const en = Object.keys(STRINGS.en).sort();
  assert.deepEqual(Object.keys(STRINGS.zh).sort(), en);
  const holes = (s) => (s.match(/\{\w+\}/g) ?? []).sort().join();
  for (const k of en) assert.equal(holes(STRINGS.zh[k]), holes(STRINGS.en[k]), k);
});

test("t fills placeholders and switches language", () => {
  setLanguage("en");
  assert.equal(t("qr.portBusy", { requested: 9999, actual: 10000 }), "Port 9999 is busy, so the relay listens on 10000.");
  setLanguage("zh");
  assert.equal(t("estop.button"), "急停");
  setLanguage("xx");
  assert.equal(t("estop.button"), "STOP");
  assert.equal(t("no.such.key"), "no.such.key");
});

test("feedback buttons map to channel and shape", () => {
  assert.deepEqual(feedbackButton(0), { channel: "A", shape: "○" });
  assert.deepEqual(feedbackButton(4), { channel: "A", shape: "⬡" });
  assert.deepEqual(feedbackButton(7), { channel: "B", shape: "□" });
});

test("safety events become sentences", () => {
  setLanguage("en");
  assert.equal(
    describeSafety({ kind: "clamped", channel: "A", asked: 80, to: 40, by: "cap" }, t),
    "A: asked 80, limited to 40 by your cap.",
  );
  assert.equal(describeSafety({ kind: "ramping", channel: "B", from: 0, to: 37 }, t), "B: rising gently from 0 to 37.");
  assert.equal(describeSafety({ kind: "caps_changed", cap_a: 1, cap_b: 2 }, t), null);
});
