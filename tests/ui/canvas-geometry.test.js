import { test } from "node:test";
import assert from "node:assert/strict";
import { barLayout, yForValue, valueForY, barAt, framesToSlots } from "../../ui/js/lib/canvas-geometry.js";

test("value <-> y round-trips over the plot and clamps outside it", () => {
  const H = 208;
  for (const v of [0, 1, 37, 50, 99, 100]) assert.equal(valueForY(yForValue(v, H, 100), H, 100), v);
  assert.equal(valueForY(-50, H, 100), 100);
  assert.equal(valueForY(H + 50, H, 100), 0);
  assert.equal(yForValue(100, H, 100), 8);
  assert.equal(yForValue(0, H, 100), H - 8);
  assert.equal(yForValue(115, H, 230), yForValue(50, H, 100), "the range is the caller's");
});

test("bars fill the width in order and the hit test finds them", () => {
  const L = barLayout(4, 416, 200);
  assert.equal(L.length, 4);
  for (let i = 1; i < 4; i++) assert.ok(L[i].x > L[i - 1].x + L[i - 1].w - 1e-9);
  assert.ok(L[3].x + L[3].w <= 416 - 8 + 1e-9);
  for (let i = 0; i < 4; i++) assert.equal(barAt(L[i].x + L[i].w / 2, L), i);
  assert.equal(barAt(-500, L), -1);
  assert.equal(barAt(0, []), -1);
});

test("the core's decoded frames flatten into slots", () => {
  const slots = framesToSlots([{ freq: [10, 20, 30, 40], intensity: [0, 25, 50, 100] }]);
  assert.deepEqual(slots.map((s) => s.intensity), [0, 25, 50, 100]);
  assert.deepEqual(slots.map((s) => s.freq), [10, 20, 30, 40]);
});
