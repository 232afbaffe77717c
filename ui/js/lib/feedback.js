// The App's ten feedback buttons: five shapes per channel, left to right.

export const SHAPES = ["○", "△", "□", "☆", "⬡"];

/** Wire index 0..9 -> {channel: "A"|"B", shape}. */
export function feedbackButton(index) {
  const i = Number(index);
  return { channel: i < 5 ? "A" : "B", shape: SHAPES[i % 5] };
}
