// The virtual App's drawing (ui/js/VirtualApp.js): where each 100 ms tick and its four
// 25 ms quarters land on the canvas, checked without a canvas.

import { test } from "node:test";
import assert from "node:assert/strict";

globalThis.window = {
  __TAURI__: { core: { invoke: () => Promise.resolve(null) }, event: { listen: () => Promise.resolve(() => {}) } },
};
const { layoutTicks, WINDOW_TICKS } = await import("../../ui/js/VirtualApp.js");

const tick = (at_ms, strength, freq, intensity) => ({ at_ms, channel: "A", strength, freq, intensity, hex: freq ? "x" : null });

test("the newest tick ends at the right edge; older ones step left by one tick each", () => {
  const out = layoutTicks([tick(100, 0, null, null), tick(200, 200, [10, 10, 240, 240], [0, 100, 50, 0])], 1000, 100);
  const w = 1000 / WINDOW_TICKS;
  assert.equal(out.length, 2);
  assert.equal(out[1].x + out[1].w, 1000);
  assert.equal(out[0].x, out[1].x - w);
  // Silence has no quarters; a frame has four, a quarter of a tick wide each.
  assert.deepEqual(out[0].quarters, []);
  assert.deepEqual(out[1].quarters.map((q) => q.x), [0, 1, 2, 3].map((i) => out[1].x + (i * w) / 4));
  // Intensity 0..100 and frequency byte 10..240 span the height; strength 0..200 too.
  assert.deepEqual(out[1].quarters.map((q) => q.barTop), [100, 0, 50, 100]);
  assert.deepEqual(out[1].quarters.map((q) => q.freqY), [100, 100, 0, 0]);
  assert.equal(out[0].strengthY, 100);
  assert.equal(out[1].strengthY, 0);
});

test("ticks older than the drawn 10 s are left out", () => {
  const ticks = Array.from({ length: WINDOW_TICKS + 5 }, (_, i) => tick((i + 1) * 100, 10, null, null));
  const out = layoutTicks(ticks, 500, 50);
  assert.equal(out.length, WINDOW_TICKS);
  assert.ok(Math.abs(out[0].x) < 1e-9, out[0].x);
  assert.deepEqual(layoutTicks([], 500, 50), []);
});
