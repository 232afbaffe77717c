// Words for what the safety gate did, from the core's SafetyEvent. Pure: `t` is the
// translation function, so the same module serves English and Chinese.

/** A sentence for the strength panel, or null for events the panel does not announce. */
export function describeSafety(ev, t) {
  switch (ev.kind) {
    case "clamped":
      return t(ev.by === "cap" ? "safety.clampedCap" : "safety.clampedSoft", { ch: ev.channel, asked: ev.asked, to: ev.to });
    case "ramping":
      return t("safety.ramping", { ch: ev.channel, from: ev.from, to: ev.to });
    case "refused":
      return t(ev.why === "latched" ? "safety.refusedLatched" : "safety.refusedLease", { ch: ev.channel ?? "" });
    case "lowered":
      return t(ev.by === "cap" ? "safety.loweredCap" : "safety.loweredSoft", { ch: ev.channel, to: ev.to });
    case "app_lowered":
      return t("safety.appLowered", { ch: ev.channel, to: ev.to });
    case "reset":
      return t(ev.why === "paired" ? "safety.resetPaired" : "safety.resetLeft");
    case "watchdog_tripped":
      return t("safety.watchdog");
    default:
      return null;
  }
}
