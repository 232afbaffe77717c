import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../ui/js/lib/pattern-edit.js";
import { CONTRACT } from "./contract-data.js";

// The limits exactly as the backend's `pattern_limits` returns them (checked by Rust).
const L = CONTRACT.pattern_limits;

test("point edits clamp, insert halfway and keep at least one point", () => {
  let p = E.newPattern(L);
  const before = JSON.stringify(p);
  p = E.setPointValue(p, 0, 0, 140, L);
  assert.equal(p.sections[0].points[0].value, "100");
  assert.equal(JSON.stringify(E.newPattern(L)), before, "edits never mutate their input");
  p = E.setPointValue(p, 0, 0, 20, L);
  p = E.addPoint(p, 0, 0, L);
  assert.deepEqual(p.sections[0].points.map((x) => x.value), ["20", "60", "100"]);
  p = E.removePoint(p, 0, 1);
  p = E.removePoint(p, 0, 1);
  p = E.removePoint(p, 0, 0);
  assert.equal(p.sections[0].points.length, 1);
  p = E.toggleAnchor(p, 0, 0);
  assert.equal(p.sections[0].points[0].anchor, false);
});

test("a new pattern takes the core's header defaults", () => {
  const p = E.newPattern(L);
  assert.deepEqual([p.rest, p.playRate, p.balance], [L.defaults.rest, L.defaults.playRate, L.defaults.balance]);
  assert.ok(L.modes.includes(p.sections[0].mode));
});

test("points stay within the core's most points", () => {
  const small = { ...L, max_points: 3 };
  let p = E.newPattern(small);
  for (let i = 0; i < 5; i++) p = E.addPoint(p, 0, 0, small);
  assert.equal(p.sections[0].points.length, 3);
});

test("sections stay within 1..=max_sections", () => {
  let p = E.newPattern(L);
  for (let i = 0; i < 20; i++) p = E.addSection(p, 0, L);
  assert.equal(p.sections.length, L.max_sections);
  for (let i = 0; i < 20; i++) p = E.removeSection(p, 0);
  assert.equal(p.sections.length, 1);
  p = E.setSectionField(p, 0, "mode", "stepRamp");
  p = E.setHeaderField(p, "rest", 30);
  assert.equal(p.sections[0].mode, "stepRamp");
  assert.equal(p.rest, 30);
});
