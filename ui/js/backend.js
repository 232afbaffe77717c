// The only module that touches window.__TAURI__: command wrappers and event subscriptions.
// Command names mirror src-tauri/src/lib.rs (COMMANDS), event names src-tauri/src/events.rs;
// tests/ui/contract.test.js holds both against tests/ui/contract.json, which the Rust side
// checks (src-tauri/tests/contract.rs).
//
// Every rejection is `{kind, params}` (see lib/notice.js); `words()` in lib/i18n.js says it.

import { toNotice } from "./lib/notice.js";

const tauri = window.__TAURI__;
const invoke = (cmd, args) =>
  tauri.core.invoke(cmd, args).catch((err) => {
    const notice = toNotice(err, cmd);
    if (notice.kind === "invalid_args") console.warn(`${cmd}:`, err);
    throw notice;
  });
const listen = (name, fn) => tauri.event.listen(name, (e) => fn(e.payload));

export const EVENT_CONNECTIONS = "relay:connections";
export const EVENT_TERMINAL = "terminal:event";
export const EVENT_SAFETY = "safety:event";
export const EVENT_SAFETY_STATE = "safety:state";
export const EVENT_PLAYER = "player:progress";
export const EVENT_STOP = "safety:stop";
export const EVENT_PHONE_ATTEMPT = "phone:attempt";
export const EVENT_INSPECTOR = "inspector:records";
export const EVENT_VIRTUAL_APP = "virtual_app:update";
export const EVENT_GAMES = "games:update";
export const EVENT_V4_APPS = "v4:apps";

export const backend = {
  appInfo: () => invoke("app_info"),
  listConnections: () => invoke("list_connections"),
  pairingInfo: () => invoke("pairing_info"),
  /** @param {string|null} choice a LAN address, a typed ws:// or wss:// URL, or null for automatic */
  setPairingAddress: (choice) => invoke("set_pairing_address", { choice: choice || null }),
  /** @param {"v4"|"socket"} pairingApp the DG-LAB App 4.x or 3.x; remembered */
  setPairingApp: (pairingApp) => invoke("set_pairing_app", { pairingApp }),
  /** The V4 relay's controllers (ours first), their 4.x Apps and the device slots reported. */
  v4Apps: () => invoke("v4_apps"),
  /** @param {string} app @param {string} slot @param {"A"|"B"} channel @param {number} value through the gate */
  v4SetStrength: (app, slot, channel, value) => invoke("v4_set_strength", { app, slot, channel, value }),
  onV4Apps: (fn) => listen(EVENT_V4_APPS, fn),

  strengthState: () => invoke("strength_state"),
  /** @param {"A"|"B"} channel @param {number} value within get_settings' limits.strength */
  setStrength: (channel, value) => invoke("set_strength", { channel, value }),
  /** @param {"A"|"B"} channel @param {"up"|"down"} direction */
  stepStrength: (channel, direction) => invoke("step_strength", { channel, direction }),
  setCaps: (capA, capB) => invoke("set_caps", { capA, capB }),
  emergencyStop: () => invoke("emergency_stop"),
  /** Where the last stop stands, App by App; null while armed. */
  stopStatus: () => invoke("stop_status"),
  /** The last safety events, oldest first: [{at_ms, notice}]. */
  recentSafetyEvents: () => invoke("recent_safety_events"),
  /** @param {"A"|"B"} channel @param {boolean} on — the core gate follows the App's soft limit */
  setFollowSoftLimit: (channel, on) => invoke("set_follow_soft_limit", { channel, on }),
  rearm: () => invoke("rearm"),
  renewLease: () => invoke("renew_lease"),

  patternLimits: () => invoke("pattern_limits"),
  expandPattern: (pattern) => invoke("expand_pattern", { pattern }),
  parseShare: (text) => invoke("parse_share", { text }),
  /** @param {("A"|"B")[]} channels @param {"once"|"loop"} repeat */
  playWaveform: (channels, pattern, repeat) => invoke("play_waveform", { channels, pattern, repeat }),
  stopWaveform: (channels) => invoke("stop_waveform", { channels }),

  listPresets: () => invoke("list_presets"),
  getPreset: (name) => invoke("get_preset", { name }),
  savePreset: (name, pattern, overwrite) => invoke("save_preset", { name, pattern, overwrite }),
  renamePreset: (from, to) => invoke("rename_preset", { from, to }),
  deletePreset: (name) => invoke("delete_preset", { name }),

  getSettings: () => invoke("get_settings"),
  saveSettings: (settings) => invoke("save_settings", { settings }),
  /** The last lines of the log file, newest last. */
  recentLog: () => invoke("recent_log"),
  openLogFolder: () => invoke("open_log_folder"),
  /** Native parts of the window (menus, <select> popups) in "light", "dark" or the system's. */
  setWindowTheme: (theme) => tauri.window.getCurrentWindow().setTheme(theme === "light" || theme === "dark" ? theme : null),

  onConnections: (fn) => listen(EVENT_CONNECTIONS, fn),
  onTerminal: (fn) => listen(EVENT_TERMINAL, fn),
  onSafety: (fn) => listen(EVENT_SAFETY, fn),
  onStrength: (fn) => listen(EVENT_SAFETY_STATE, fn),
  onPlayer: (fn) => listen(EVENT_PLAYER, fn),
  onStop: (fn) => listen(EVENT_STOP, fn),

  // Pairing doctor, phone test and protocol inspector (issue 14).
  /** The phone-test URL (http://address:port/check) for the QR code's address, and its QR code. */
  phoneCheck: () => invoke("phone_check"),
  /** The last phone attempts on the relay's port, oldest first: [{at_ms, kind, from, params}]. */
  phoneAttempts: () => invoke("phone_attempts"),
  /** @param {string[]|null} addresses only these IPv4 addresses, or null for all */
  runDoctor: (addresses) => invoke("run_doctor", { addresses: addresses || null }),
  startInspector: () => invoke("start_inspector"),
  stopInspector: () => invoke("stop_inspector"),
  onPhoneAttempt: (fn) => listen(EVENT_PHONE_ATTEMPT, fn),
  /** Batches while the inspector runs: {records, lost}. */
  onInspector: (fn) => listen(EVENT_INSPECTOR, fn),
  // "Try without a phone" (issue 14): the simulated App, paired with our terminal.
  /** @param {number} softA @param {number} softB the simulated phone's soft limits */
  startVirtualApp: (softA, softB) => invoke("start_virtual_app", { softA, softB }),
  stopVirtualApp: () => invoke("stop_virtual_app"),
  virtualAppState: () => invoke("virtual_app_state"),
  setVirtualSoftLimits: (softA, softB) => invoke("set_virtual_soft_limits", { softA, softB }),
  /** @param {number} button 0..4 channel A's shapes, 5..9 channel B's */
  pressVirtualFeedback: (button) => invoke("press_virtual_feedback", { button }),
  onVirtualApp: (fn) => listen(EVENT_VIRTUAL_APP, fn),

  // The game API's panel (issue 15 point 5).
  gamesState: () => invoke("games_state"),
  /** @param {boolean} enabled @param {number} port @param {boolean} lan — saved and applied at once */
  setGamesApi: (enabled, port, lan) => invoke("set_games_api", { enabled, port, lan }),
  newGamesToken: () => invoke("new_games_token"),
  /** @param {boolean} on game output (the game mode) */
  setGameOutput: (on) => invoke("set_game_output", { on }),
  onGames: (fn) => listen(EVENT_GAMES, fn),
};

/** Copies text to the clipboard through Tauri's clipboard plugin (the webview's own
 *  clipboard API reports success on WebKitGTK without copying). */
export function copyText(text) {
  return invoke("plugin:clipboard-manager|write_text", { text });
}
