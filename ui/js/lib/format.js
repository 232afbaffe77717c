// Pure text formatting for the tables and panels (unit-tested with node --test).

/** First 8 characters of a UUID: enough to tell connections apart in a table. */
export function shortId(id) {
  return id ? String(id).slice(0, 8) : "—";
}

/** 65 s → "1:05", 3725 s → "1:02:05"; negative or missing → "0:00". */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Round trip in whole milliseconds ("<1 ms" below one), or "—" before the first ping. */
export function formatRtt(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1) return "<1 ms";
  return `${Math.round(ms)} ms`;
}

/** The i18n key of a role as the binding table words it; `ours` marks this window's terminal. */
export function roleKey(role, ours) {
  switch (role) {
    case "app":
      return "role.app";
    case "terminal":
      return "role.terminal";
    case "local":
      return ours ? "role.ours" : "role.local";
    default:
      return "role.unknown";
  }
}

/** "1.5" (seconds, for `unit.seconds`) from 100 ms units; "0.1" for one frame. */
export function tenthsToSeconds(tenths) {
  return (Number(tenths) / 10).toFixed(1);
}

/** 0..200 or "—" when unknown. */
export function formatStrength(v) {
  return Number.isInteger(v) ? String(v) : "—";
}

/** Wall-clock time "14:03:07" for activity lists. */
export function formatClock(date) {
  const d = date instanceof Date ? date : new Date(date);
  return [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map((n) => String(n).padStart(2, "0"))
    .join(":");
}

/** Tauri's accelerator spelling as people read it: "CommandOrControl+Shift+Space" → "Ctrl+Shift+Space". */
export function shortcutLabel(accelerator, isMac = false) {
  return String(accelerator)
    .replace(/\b(CommandOrControl|CmdOrCtrl|CmdOrControl|CommandOrCtrl)\b/g, isMac ? "⌘" : "Ctrl")
    .replace(/\bControl\b/g, "Ctrl");
}

/** The App's "frequency" value is a pulse period in ms (bigger = slower): `{ms, hz}` for
 *  the option label, the rate rounded to what reads well (100, 4.3, 1). */
export function periodOption(ms) {
  const hz = 1000 / Number(ms);
  const rounded = hz >= 10 ? Math.round(hz) : Math.round(hz * 10) / 10;
  return { ms: Number(ms), hz: String(rounded) };
}

/** The rest after the last section, in seconds as played: `ceil(L / 10)` frames of 0.1 s
 *  (docs/waveform-format.md §6.5), e.g. 35 → "0.4". */
export function restSeconds(rest) {
  return (Math.ceil(Number(rest) / 10) / 10).toFixed(1);
}
