// A lasting line near STOP: is a phone paired with this window? Drawn from the relay's
// connection snapshot (our row's `paired_with`), so it is never a notice that fades.

import { backend } from "./backend.js";
import { setText } from "./lib/dom.js";
import { shortId } from "./lib/format.js";
import { t } from "./lib/i18n.js";

/** Whether our terminal is paired, and with which App, from a connection snapshot. */
export function pairingOf(rows) {
  const ours = rows.find((c) => c.ours);
  return ours?.paired_with ? { connected: true, app: ours.paired_with } : { connected: false, app: null };
}

export class PairingStatus {
  constructor(el) {
    this.el = el;
    backend
      .onConnections((rows) => this.update(rows))
      .then(() => backend.listConnections())
      .then((rows) => this.update(rows));
  }

  update(rows) {
    const { connected, app } = pairingOf(rows);
    this.el.dataset.state = connected ? "connected" : "not-connected";
    setText(this.el, connected ? `${t("status.connected")} · ${shortId(app)}` : t("status.notConnected"));
  }
}
