import { test } from "node:test";
import assert from "node:assert/strict";
import { createHistory } from "../../ui/js/lib/history.js";

test("undo and redo walk the snapshots", () => {
  const h = createHistory({ v: 0 });
  assert.equal(h.canUndo, false);
  h.push({ v: 1 });
  h.push({ v: 2 });
  assert.deepEqual(h.undo(), { v: 1 });
  assert.deepEqual(h.undo(), { v: 0 });
  assert.equal(h.undo(), null);
  assert.deepEqual(h.redo(), { v: 1 });
  h.push({ v: 9 });
  assert.equal(h.canRedo, false, "a new edit drops the redo branch");
  assert.deepEqual(h.current, { v: 9 });
});

test("identical states are not recorded and snapshots are copies", () => {
  const obj = { v: 1 };
  const h = createHistory(obj);
  assert.equal(h.push({ v: 1 }), false);
  obj.v = 99;
  assert.deepEqual(h.current, { v: 1 });
});

test("the history is bounded", () => {
  const h = createHistory(0, 3);
  for (let i = 1; i <= 10; i++) h.push(i);
  let n = 0;
  while (h.undo() !== null) n++;
  assert.equal(n, 3);
  assert.equal(h.current, 7);
});
