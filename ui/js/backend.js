// The only module that touches window.__TAURI__: command wrappers and event subscriptions.
// Event names mirror src-tauri/src/events.rs.

const tauri = window.__TAURI__;
const invoke = (cmd, args) => tauri.core.invoke(cmd, args);
const listen = (name, fn) => tauri.event.listen(name, (e) => fn(e.payload));

export const EVENT_CONNECTIONS = "relay:connections";
export const EVENT_TERMINAL = "terminal:event";
export const EVENT_ESTOP = "safety:estop";

export const backend = {
  appInfo: () => invoke("app_info"),
  listConnections: () => invoke("list_connections"),
  /** @param {string|null} base a typed ws:// or wss:// address, a LAN base, or null for the best LAN one */
  pairingInfo: (base) => invoke("pairing_info", { base: base || null }),
  terminalStatus: () => invoke("terminal_status"),
  /** @param {"A"|"B"} channel @param {number} value 0..200 */
  setStrength: (channel, value) => invoke("set_strength", { channel, value }),
  /** @param {"A"|"B"} channel @param {"up"|"down"} direction */
  stepStrength: (channel, direction) => invoke("step_strength", { channel, direction }),
  emergencyStop: () => invoke("emergency_stop"),
  rearm: () => invoke("rearm"),

  onConnections: (fn) => listen(EVENT_CONNECTIONS, fn),
  onTerminal: (fn) => listen(EVENT_TERMINAL, fn),
  onEstop: (fn) => listen(EVENT_ESTOP, fn),
};

/** A command error's sentence: commands reject with {kind, message}. */
export function errorText(err) {
  if (err && typeof err === "object" && "message" in err) return err.message;
  return String(err);
}
