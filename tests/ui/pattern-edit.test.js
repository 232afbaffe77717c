import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../../ui/js/lib/pattern-edit.js";

test("point edits clamp, insert halfway and keep at least one point", () => {
  let p = E.newPattern();
  const before = JSON.stringify(p);
  p = E.setPointValue(p, 0, 0, 140);
  assert.equal(p.sections[0].points[0].value, "100");
  assert.equal(JSON.stringify(E.newPattern()), before, "edits never mutate their input");
  p = E.setPointValue(p, 0, 0, 20);
  p = E.addPoint(p, 0, 0);
  assert.deepEqual(p.sections[0].points.map((x) => x.value), ["20", "60", "100"]);
  p = E.removePoint(p, 0, 1);
  p = E.removePoint(p, 0, 1);
  p = E.removePoint(p, 0, 0);
  assert.equal(p.sections[0].points.length, 1);
  p = E.toggleAnchor(p, 0, 0);
  assert.equal(p.sections[0].points[0].anchor, false);
});

test("sections stay within 1..=10", () => {
  let p = E.newPattern();
  for (let i = 0; i < 20; i++) p = E.addSection(p, 0);
  assert.equal(p.sections.length, E.MAX_SECTIONS);
  for (let i = 0; i < 20; i++) p = E.removeSection(p, 0);
  assert.equal(p.sections.length, 1);
  p = E.setSectionField(p, 0, "mode", "stepRamp");
  p = E.setHeaderField(p, "rest", 30);
  assert.equal(p.sections[0].mode, "stepRamp");
  assert.equal(p.rest, 30);
});
