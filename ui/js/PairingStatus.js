// A lasting line near STOP: is a phone paired with this window? Drawn from the relay's
// connection snapshot (our row's `paired_with`), so it is never a notice that fades; a
// DG-LAB App 4.x on our V4 controller is said too, apart (it is listed, not yet driven).

import { backend } from "./backend.js";
import { setText } from "./lib/dom.js";
import { shortId } from "./lib/format.js";
import { t } from "./lib/i18n.js";

/** Whether our terminal is paired, and with which App, from a connection snapshot. */
export function pairingOf(rows) {
  const ours = rows.find((c) => c.ours);
  return ours?.paired_with ? { connected: true, app: ours.paired_with } : { connected: false, app: null };
}

/** How many 4.x Apps are on our V4 controller, from the V4 table. */
export function v4AppsOf(controllers) {
  return controllers.find((c) => c.ours)?.apps.length ?? 0;
}

export class PairingStatus {
  constructor(el) {
    this.el = el;
    this.rows = [];
    this.v4 = [];
    backend
      .onConnections((rows) => this.update(rows))
      .then(() => backend.listConnections())
      .then((rows) => this.update(rows));
    backend
      .onV4Apps((v4) => this.update(this.rows, v4))
      .then(() => backend.v4Apps())
      .then((v4) => this.update(this.rows, v4));
  }

  update(rows, v4 = this.v4) {
    this.rows = rows;
    this.v4 = v4;
    const { connected, app } = pairingOf(rows);
    const n = v4AppsOf(v4);
    this.el.dataset.state = connected ? "connected" : n > 0 ? "v4" : "not-connected";
    setText(this.el, connected ? `${t("status.connected")} · ${shortId(app)}` : n > 0 ? t("status.v4Connected", { n }) : t("status.notConnected"));
  }
}
