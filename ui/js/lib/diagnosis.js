// Words for what the doctor, the phone test and the inspector report. The backend sends
// facts as {kind, params} (src/pairing/doctor.rs, src/protocol/describe.rs); this file only
// picks the sentence for a kind and fills it — no protocol or network logic here.

import { t } from "./i18n.js";
import { formatClock } from "./format.js";

/** Why the relay refused a plain HTTP request, in words. */
export function httpWhy(status) {
  return [400, 405, 426, 431].includes(status) ? t(`doctor.http.${status}`) : t("doctor.http.other");
}

/** A frame's meaning ({kind, params} from protocol::describe). */
export function meaningText(m) {
  const params = { ...(m?.params ?? {}) };
  if (typeof params.reason === "string") params.why = t(`code.${params.reason}`);
  if (m?.kind === "http_refused") params.why = httpWhy(params.status);
  return t(`meaning.${m?.kind}`, params);
}

export const reasonText = (r) => t(`doctor.reason.${r.kind}`, r.params ?? {});
export const selfTestText = (s) => t(`doctor.test.${s.kind}`, s.params ?? {});
export const urlHintText = (hint) => t(`doctor.url.${hint.kind}`, hint.params ?? {});

/** One firewall finding; `port` fills the command that would open it. */
export function firewallText(f, port) {
  const params = { ...(f.params ?? {}), port };
  if (f.kind === "cannot_tell") params.why = t(`doctor.fwWhy.${params.reason}`);
  return t(`doctor.fw.${f.kind}`, params);
}

/** The doctor's conclusion, with the firewall's warning when it applies. */
export function verdictText(v) {
  const s = t(`doctor.verdict.${v.kind}`, v.params ?? {});
  return v.params?.firewall_blocks ? `${s} ${t("doctor.verdict.firewall")}` : s;
}

/** Where an address stands in the QR code's choice. */
export function rankText(rank) {
  if (rank === 1) return t("doctor.best");
  return rank ? t("doctor.rank", { n: rank }) : t("doctor.never");
}

/** One phone attempt ({at_ms, kind, from, params} from the shell). */
export function attemptText(a) {
  const base = { time: formatClock(new Date(a.at_ms)), from: a.from ?? "?" };
  const p = a.params ?? {};
  switch (a.kind) {
    case "reached":
      if (p.self_test) return t("doctor.attempt.selfTest", base);
      return t("doctor.attempt.reached", { ...base, ua: p.user_agent ?? "—" });
    case "http_refused":
      return t("doctor.attempt.http_refused", { ...base, status: p.status, path: p.path || "—", why: httpWhy(p.status) });
    case "bind":
      return p.code === 200
        ? t("doctor.attempt.bind_ok", base)
        : t("doctor.attempt.bind_refused", { ...base, code: p.code, why: t(`code.${p.reason}`) });
    default:
      return t("doctor.attempt.upgraded", base);
  }
}

/** The inspector's export: one JSON object per line, as `dglab-relay serve --inspect`. */
export function jsonLines(records) {
  return records.map((r) => JSON.stringify(r)).join("\n") + (records.length ? "\n" : "");
}
