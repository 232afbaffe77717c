// Number fields refuse bad values in words (both languages) before the backend sees them.

import { test } from "node:test";
import assert from "node:assert/strict";
import { checkInteger } from "../../ui/js/lib/number-field.js";
import { setLanguage } from "../../ui/js/lib/i18n.js";

const CAP = { min: 0, max: 200 };

test("whole numbers inside the range pass", () => {
  assert.deepEqual(checkInteger("40", CAP, 40), { ok: true, value: 40 });
  assert.deepEqual(checkInteger(" 0 ", CAP, 40), { ok: true, value: 0 });
  assert.deepEqual(checkInteger("200", CAP, 40), { ok: true, value: 200 });
});

test("300, -3, 2.5, empty and words are refused in words, naming the value in force", () => {
  setLanguage("en");
  for (const bad of ["300", "-3", "2.5", "", "abc", "1e2", "99999999999999999999"]) {
    const r = checkInteger(bad, CAP, 40);
    assert.equal(r.ok, false, bad);
    assert.equal(r.message, "Enter a whole number from 0 to 200; 40 stays in force.", bad);
  }
  setLanguage("zh");
  assert.equal(checkInteger("300", CAP, 40).message, "请输入 0 到 200 之间的整数；当前仍为 40。");
  assert.equal(checkInteger("x", { min: 1, max: 65535 }).message, "请输入 1 到 65535 之间的整数。");
  setLanguage("en");
});
