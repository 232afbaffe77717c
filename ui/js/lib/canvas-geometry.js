// Pure geometry for the waveform canvases: bars <-> pixels, hit tests. No DOM.

/** Intensity range of a point (the App's 0..100). */
export const MAX_VALUE = 100;

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

/** The pixel y of the top of a bar of `value` (0..100). */
export function yForValue(value, height, pad = 8) {
  const v = Math.min(MAX_VALUE, Math.max(0, Number(value) || 0));
  return height - pad - (v / MAX_VALUE) * (height - 2 * pad);
}

/** The whole value (0..100) a pointer at pixel `y` sets; outside the plot it clamps. */
export function valueForY(y, height, pad = 8) {
  const span = Math.max(1, height - 2 * pad);
  const v = Math.round(((height - pad - y) / span) * MAX_VALUE);
  return Math.min(MAX_VALUE, Math.max(0, v));
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

/** Frame hex ("0A0A0A0A64646464") -> {freq: [4 bytes], intensity: [4 bytes]}. */
export function decodeFrame(hex) {
  const bytes = [];
  for (let i = 0; i < 16; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  return { freq: bytes.slice(0, 4), intensity: bytes.slice(4, 8) };
}

/** Flattens frames into 25 ms slots for the preview: [{freq, intensity}, ...]. */
export function framesToSlots(frames) {
  const out = [];
  for (const hex of frames) {
    const f = decodeFrame(hex);
    for (let i = 0; i < 4; i++) out.push({ freq: f.freq[i], intensity: f.intensity[i] });
  }
  return out;
}
