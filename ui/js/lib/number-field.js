// Number fields that refuse a bad value in words and keep showing the value in force.
// Shared by the components that own a number field (settings, waveform rest, the caps in
// StrengthSliders.js): a refused value never reaches the backend, so Tauri's English
// "invalid args … expected u8" is never what the user reads.

import { setText } from "./dom.js";
import { t, words } from "./i18n.js";

/** `{ok: true, value}` for a whole number inside `range` ({min, max}); else
 *  `{ok: false, message}`, worded with the value still in force (`inForce`, if known). */
export function checkInteger(text, range, inForce) {
  const s = String(text ?? "").trim();
  const value = /^[+-]?\d+$/.test(s) ? Number(s) : NaN;
  if (Number.isSafeInteger(value) && value >= range.min && value <= range.max) return { ok: true, value };
  const vars = { min: range.min, max: range.max, value: inForce };
  return { ok: false, message: inForce === undefined || inForce === null ? t("input.rangeOnly", vars) : t("input.range", vars) };
}

/**
 * Wires `input` (type=number) so that on change a bad value is refused in words (in
 * `message`, a reserved line under the field) and the field shows the value in force again;
 * a good value goes to `apply`, and if the backend refuses it, its words are shown and the
 * value in force is put back.
 *
 * @param {HTMLInputElement} input
 * @param {{range: {min: number, max: number}, current: () => number, apply: (v: number) => unknown, message: HTMLElement}} opts
 *   `current` gives the value in force; `apply` may return a promise.
 */
export function bindNumberField(input, { range, current, apply, message }) {
  input.min = String(range.min);
  input.max = String(range.max);
  input.step = "1";
  const refuse = (text) => {
    setText(message, text);
    input.setAttribute("aria-invalid", "true");
    input.value = String(current());
  };
  input.addEventListener("change", async () => {
    const checked = checkInteger(input.value, range, current());
    if (!checked.ok) return refuse(checked.message);
    setText(message, "");
    input.removeAttribute("aria-invalid");
    try {
      await apply(checked.value);
    } catch (e) {
      refuse(words(e));
    }
  });
}
