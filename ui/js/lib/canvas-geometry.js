// Pure geometry for the waveform canvases: bars <-> pixels, hit tests. No DOM. The value
// range (`max`) is the core's (`pattern_limits`), never assumed here.

/**
 * Lays out `n` bars across a canvas.
 * @returns {{x: number, w: number, pad: number, plotTop: number, plotBottom: number}[]} one entry per bar
 */
export function barLayout(n, width, height, pad = 8) {
  const inner = Math.max(1, width - 2 * pad);
  const slot = inner / Math.max(1, n);
  const gap = Math.min(4, slot * 0.2);
  return Array.from({ length: n }, (_, i) => ({
    x: pad + i * slot + gap / 2,
    w: Math.max(1, slot - gap),
    pad,
    plotTop: pad,
    plotBottom: height - pad,
  }));
}

/** The pixel y of the top of a bar of `value` (0..max). */
export function yForValue(value, height, max, pad = 8) {
  const v = Math.min(max, Math.max(0, Number(value) || 0));
  return height - pad - (v / max) * (height - 2 * pad);
}

/** The whole value (0..max) a pointer at pixel `y` sets; outside the plot it clamps. */
export function valueForY(y, height, max, pad = 8) {
  const span = Math.max(1, height - 2 * pad);
  const v = Math.round(((height - pad - y) / span) * max);
  return Math.min(max, Math.max(0, v));
}

/** Index of the bar under pixel `x` (the nearest one when between bars), or -1 for none. */
export function barAt(x, layout) {
  if (!layout.length) return -1;
  let best = -1;
  let dist = Infinity;
  layout.forEach((b, i) => {
    const d = x < b.x ? b.x - x : x > b.x + b.w ? x - (b.x + b.w) : 0;
    if (d < dist) {
      dist = d;
      best = i;
    }
  });
  const slot = layout.length > 1 ? layout[1].x - layout[0].x : layout[0].w;
  return dist <= slot / 2 ? best : -1;
}

/** Flattens the core's decoded frames ({freq: [4], intensity: [4]}, as `expand_pattern`
 *  returns them) into 25 ms slots for the preview: [{freq, intensity}, ...]. */
export function framesToSlots(frames) {
  const out = [];
  for (const f of frames) {
    for (let i = 0; i < 4; i++) out.push({ freq: f.freq[i], intensity: f.intensity[i] });
  }
  return out;
}
