// A DG-LAB App 4.x device slot in words, for the V4 table (unit-tested with node --test).

import { formatStrength } from "./format.js";
import { t } from "./i18n.js";

/** "郊狼 3.0 (COYOTE_030) · A 12/60 · B 0/— · battery 80 %": strength over the App's own
 *  limit per channel ("—" when not reported), then battery and a missing box if known. */
export function slotText(d) {
  const ch = (letter, i) => `${letter} ${formatStrength(d.strength[i])}/${formatStrength(d.limit[i])}`;
  const parts = [`${d.name || d.slot_id} (${d.kind})`, ch("A", 0), ch("B", 1)];
  if (Number.isInteger(d.battery)) parts.push(t("v4.battery", { pct: d.battery }));
  if (d.connected === false) parts.push(t("v4.noBox"));
  return parts.join(" · ");
}
