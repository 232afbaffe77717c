// How dialogs are layered, so STOP stays reachable while one is open.
//
// A modal <dialog> (showModal) puts the page under it out of reach: everything else becomes
// inert, the STOP button included. So dialogs open non-modal (show) above a backdrop that
// blocks the page (body.has-dialog, styles/dialogs.css) — and the sticky top bar with STOP
// sits above both. Escape is handled once, in EmergencyStop.js: with a dialog open it closes
// the topmost one (as Cancel) and does nothing else; with none open it stops.

/** Opens `el` (a <dialog>) above the backdrop, below the top bar. */
export function openDialog(el) {
  const bar = document.querySelector(".topbar");
  if (bar) document.documentElement.style.setProperty("--topbar-h", `${bar.offsetHeight}px`);
  if (!el.open) el.show();
  el.addEventListener("close", syncBackdrop, { once: true });
  syncBackdrop();
}

/** The topmost open dialog, or null. */
export function topDialog() {
  const open = document.querySelectorAll("dialog[open]");
  return open.length ? open[open.length - 1] : null;
}

/** Closes the topmost dialog as its Cancel would; true if there was one. */
export function cancelTopDialog() {
  const el = topDialog();
  if (!el) return false;
  // The dialog's own handler (ConfirmDialog resolves null) runs first, as for a modal's Escape.
  const ev = new Event("cancel", { cancelable: true });
  el.dispatchEvent(ev);
  if (!ev.defaultPrevented && el.open) el.close();
  syncBackdrop();
  return true;
}

function syncBackdrop() {
  document.body.classList.toggle("has-dialog", !!topDialog());
}
