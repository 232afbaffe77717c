// The V4 table's words for a device slot.

import { test } from "node:test";
import assert from "node:assert/strict";
import { slotText } from "../../ui/js/lib/v4-slot.js";
import { setLanguage } from "../../ui/js/lib/i18n.js";

const coyote = { slot_id: "s1", name: "郊狼 3.0", kind: "COYOTE_030", connected: true, battery: 80, strength: [12, 0], limit: [60, null] };

test("a slot says its name, type, strength over the App's limit and battery", () => {
  setLanguage("en");
  assert.equal(slotText(coyote), "郊狼 3.0 (COYOTE_030) · A 12/60 · B 0/— · battery 80 %");
  setLanguage("zh");
  assert.equal(slotText(coyote), "郊狼 3.0 (COYOTE_030) · A 12/60 · B 0/— · 电量 80 %");
  setLanguage("en");
});

test("an unnamed slot shows its id; a missing box and unknown values are said", () => {
  const bare = { slot_id: "s9", name: "", kind: "OVC_1", connected: false, battery: null, strength: [null, null], limit: [null, null] };
  assert.equal(slotText(bare), "s9 (OVC_1) · A —/— · B —/— · box not connected");
});
