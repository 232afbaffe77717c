// tests/ui/contract.json: what the desktop shell offers the window — command names with the
// argument names the shell accepts, event names, every `{kind}` it may send, the params
// whose values are words, and the real `pattern_limits` answer. src-tauri/tests/contract.rs
// writes nothing: it fails unless the file matches the shell (and invokes every command with
// those argument names on the mock runtime). The node tests hold the UI against the same file.

import { readFileSync } from "node:fs";

export const CONTRACT = JSON.parse(readFileSync(new URL("./contract.json", import.meta.url), "utf8"));
