// Edits of the App's pattern model as the core serializes it ({rest, playRate, balance,
// sections: [{freqA, freqB, duration, mode, enabled, points: [{value, anchor}]}]}).
// Each edit returns a new pattern and never breaks the list-length rules; the core checks
// everything else when the editor asks for the preview. The rules themselves (most
// sections and points, a point's range, the header's defaults) are the core's: `limits`
// is what the backend's `pattern_limits` returns.

const clone = (p) => JSON.parse(JSON.stringify(p));
const clampValue = (v, range) => String(Math.min(range.max, Math.max(range.min, Math.round(Number(v) || 0))));

/** A small pattern to start from: the core's header defaults and one section. */
export function newPattern(limits) {
  const d = limits.defaults;
  return {
    rest: d.rest,
    playRate: d.playRate,
    balance: d.balance,
    sections: [newSection(limits)],
  };
}

/** The editor's starting section: one rise from the lowest to the highest point value,
 *  in the App's first mode (frequency index 20, duration index 9: the editor's choice). */
export function newSection(limits) {
  return {
    freqA: 20,
    freqB: 20,
    duration: 9,
    mode: limits.modes[0],
    enabled: true,
    points: [
      { value: String(limits.point_value.min), anchor: true },
      { value: String(limits.point_value.max), anchor: true },
    ],
  };
}

/** Sets one point's value (whole number, clamped to the core's range). */
export function setPointValue(p, s, i, value, limits) {
  const q = clone(p);
  q.sections[s].points[i].value = clampValue(value, limits.point_value);
  return q;
}

/** Inserts a point after `i` (halfway to the next one), up to the core's most points. */
export function addPoint(p, s, i, limits) {
  const q = clone(p);
  const pts = q.sections[s].points;
  if (pts.length >= limits.max_points) return q;
  const at = Math.min(Math.max(i, -1), pts.length - 1);
  const a = at >= 0 ? Number(pts[at].value) : 0;
  const b = at + 1 < pts.length ? Number(pts[at + 1].value) : a;
  pts.splice(at + 1, 0, { value: clampValue((a + b) / 2, limits.point_value), anchor: true });
  return q;
}

/** Removes point `i`; the last point of a section stays. */
export function removePoint(p, s, i) {
  const q = clone(p);
  const pts = q.sections[s].points;
  if (pts.length > 1) pts.splice(i, 1);
  return q;
}

export function toggleAnchor(p, s, i) {
  const q = clone(p);
  const pt = q.sections[s].points[i];
  pt.anchor = !pt.anchor;
  return q;
}

/** Adds a section after `s` (a copy of its frequency settings), up to the core's most sections. */
export function addSection(p, s, limits) {
  const q = clone(p);
  if (q.sections.length >= limits.max_sections) return q;
  const base = q.sections[s] ?? newSection(limits);
  const sec = { ...newSection(limits), freqA: base.freqA, freqB: base.freqB, mode: base.mode };
  q.sections.splice(s + 1, 0, sec);
  return q;
}

/** Removes section `s`; the last section stays. */
export function removeSection(p, s) {
  const q = clone(p);
  if (q.sections.length > 1) q.sections.splice(s, 1);
  return q;
}

/** Sets a section field (freqA, freqB, duration, mode, enabled). */
export function setSectionField(p, s, field, value) {
  const q = clone(p);
  q.sections[s][field] = value;
  return q;
}

/** Sets a header field (rest, playRate, balance). */
export function setHeaderField(p, field, value) {
  const q = clone(p);
  q[field] = value;
  return q;
}
