// Every command rejection as the backend's `{kind, params}` shape (pure, unit-tested).
//
// The shell rejects with `{kind, params}`. Tauri itself rejects with an English string when
// it cannot read a command's arguments (e.g. 300 for a u8) — before our command runs — so
// that string becomes `invalid_args`, worded like any other kind; the raw text is kept
// for the console only.

const TAURI_ARGS = /invalid args `([^`]+)` for command `([^`]+)`/;

/** `{kind, params}` from whatever `invoke` rejected with; `command` is the one invoked. */
export function toNotice(err, command) {
  if (err && typeof err === "object" && typeof err.kind === "string") {
    return { kind: err.kind, params: err.params && typeof err.params === "object" ? err.params : {} };
  }
  const m = TAURI_ARGS.exec(String(err?.message ?? err));
  return { kind: "invalid_args", params: { command: m?.[2] ?? command, arg: m?.[1] ?? "" } };
}
