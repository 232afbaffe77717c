//! The relay-wide policy: the user's caps and STOP bind every App on the relay, whoever
//! drives it — our own guarded terminals, another terminal on the relay, the vendor's web
//! page, a game mod.
//!
//! [`RelayPolicy`] is the [`AppGuard`] the hub installs on a relay
//! ([`super::SafetyHub::guard_relay`]). For every frame bound for an App:
//! - while the stop is latched (or the watchdog lapsed): any strength above 0, any raise and
//!   any pulse is refused (the sender hears `423`); lowering, 0 and clears pass;
//! - an absolute strength above the cap is clamped to the cap; a `+1` that would pass the
//!   cap is refused;
//! - for terminals that are not our own gates, a raise is at most +1 above the App's level
//!   per rise interval: a terminal that sets 30 at once gets 1, and climbs as it keeps
//!   asking (our own gates already ramp, so they are not limited twice).
//!
//! Every App report is read: a level above what is allowed (the cap, 0 while stopped) is
//! answered at once with the allowed level (our own gates answer for their Apps). After a
//! stop, each App owes a 0/0 report; until then the hub re-sends it every second.

use super::event::{SafetyEvent, STOP_RETRY};
use super::hub::HubInner;
use crate::protocol::command::{AppCommand, AppReport, Channel, StrengthMode};
use crate::relay::{AppGuard, RelayHandle, Verdict};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

/// The four frames that leave an App silent.
pub(crate) const ZERO_AND_CLEAR: [&str; 4] =
    ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"];

/// What the policy knows of one App.
#[derive(Debug)]
struct AppSeen {
    /// Its terminal, as last seen routing.
    terminal: Uuid,
    /// Its level per channel as far as the policy can tell: the last report, or the last
    /// strength let through since.
    level: [u8; 2],
    /// Its last report, if any.
    reported: Option<[u8; 2]>,
    /// When a raise last went through on each channel (other terminals only).
    last_rise: [Option<Instant>; 2],
    /// A stop was sent and the App has not reported 0/0 since.
    stop_pending: bool,
}

impl AppSeen {
    fn new(terminal: Uuid) -> Self {
        AppSeen {
            terminal,
            level: [0, 0],
            reported: None,
            last_rise: [None, None],
            stop_pending: false,
        }
    }
}

fn idx(ch: Channel) -> usize {
    match ch {
        Channel::A => 0,
        Channel::B => 1,
    }
}

/// The hub's policy on one relay. See the module docs.
#[derive(Debug)]
pub(crate) struct RelayPolicy {
    hub: Weak<HubInner>,
    apps: Mutex<HashMap<Uuid, AppSeen>>,
    /// Audit events made under the relay's lock, emitted (and logged) by a task outside it.
    /// Bounded: a flood of reports above the cap answers every one, but audits at most
    /// this queue's worth until the task catches up.
    events: mpsc::Sender<SafetyEvent>,
}

impl RelayPolicy {
    /// A policy for `hub`, and the receiver of the audit events it makes under the relay's
    /// lock.
    pub(crate) fn new(hub: &Arc<HubInner>) -> (Self, mpsc::Receiver<SafetyEvent>) {
        let (tx, rx) = mpsc::channel(crate::terminal::EVENT_QUEUE);
        let policy = RelayPolicy {
            hub: Arc::downgrade(hub),
            apps: Mutex::new(HashMap::new()),
            events: tx,
        };
        (policy, rx)
    }

    fn apps(&self) -> MutexGuard<'_, HashMap<Uuid, AppSeen>> {
        self.apps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the Apps a stop reached: each owes a 0/0 report, unless it already said 0/0.
    /// An App never seen routing is recorded with a nil terminal until its next frame.
    pub(crate) fn stopped(&self, reached: &[Uuid]) {
        let mut apps = self.apps();
        for app in reached {
            let a = apps
                .entry(*app)
                .or_insert_with(|| AppSeen::new(Uuid::nil()));
            a.level = [0, 0];
            a.last_rise = [None, None];
            a.stop_pending = a.reported != Some([0, 0]);
        }
    }

    /// `(terminal, App)` of every App that owes a 0/0 report.
    pub(crate) fn unconfirmed(&self) -> Vec<(Uuid, Uuid)> {
        let mut v: Vec<_> = self
            .apps()
            .iter()
            .filter(|(_, a)| a.stop_pending)
            .map(|(app, a)| (a.terminal, *app))
            .collect();
        v.sort();
        v
    }

    /// The stop was released: nobody owes a confirmation any more.
    pub(crate) fn released(&self) {
        for a in self.apps().values_mut() {
            a.stop_pending = false;
        }
    }
}

impl AppGuard for RelayPolicy {
    fn terminal_sent(&self, app: Uuid, terminal: Uuid, message: &str) -> Verdict {
        let Some(hub) = self.hub.upgrade() else {
            return Verdict::Pass;
        };
        let blocked = hub.block().is_some();
        if message.starts_with("pulse-") {
            // Checked by prefix: a pulse's frames are not parsed on this hot path.
            return if blocked {
                Verdict::Refuse
            } else {
                Verdict::Pass
            };
        }
        let Some(AppCommand::Strength {
            channel,
            mode,
            value,
        }) = AppCommand::parse(message)
        else {
            // Clears, and anything the App would ignore anyway.
            return Verdict::Pass;
        };
        let i = idx(channel);
        let cap = hub.cap(channel);
        let ours = hub.is_gated(terminal);
        let now = Instant::now();
        let interval = hub.interval;
        let mut apps = self.apps();
        let a = apps.entry(app).or_insert_with(|| AppSeen::new(terminal));
        a.terminal = terminal;
        let level = a.level[i];
        let due = |a: &AppSeen| a.last_rise[i].is_none_or(|t| now >= t + interval);
        match mode {
            StrengthMode::Decrease => {
                a.level[i] = level.saturating_sub(1);
                Verdict::Pass
            }
            StrengthMode::Increase => {
                if blocked || level >= cap || (!ours && !due(a)) {
                    return Verdict::Refuse;
                }
                a.level[i] = level + 1;
                a.last_rise[i] = Some(now);
                Verdict::Pass
            }
            StrengthMode::Set => {
                if blocked && value > 0 {
                    return Verdict::Refuse;
                }
                let mut v = value.min(cap);
                if !ours && v > level {
                    v = if due(a) { level + 1 } else { level };
                }
                if v > level {
                    a.last_rise[i] = Some(now);
                }
                a.level[i] = v;
                if v == value {
                    Verdict::Pass
                } else {
                    Verdict::Replace(
                        AppCommand::Strength {
                            channel,
                            mode,
                            value: v,
                        }
                        .format(),
                    )
                }
            }
        }
    }

    fn app_sent(&self, app: Uuid, terminal: Uuid, message: &str) -> Vec<String> {
        let Some(AppReport::Strength(r)) = AppReport::parse(message) else {
            return vec![];
        };
        let Some(hub) = self.hub.upgrade() else {
            return vec![];
        };
        let blocked = hub.block().is_some();
        let ours = hub.is_gated(terminal);
        let mut apps = self.apps();
        let a = apps.entry(app).or_insert_with(|| AppSeen::new(terminal));
        a.terminal = terminal;
        a.level = [r.a, r.b];
        a.reported = Some([r.a, r.b]);
        if a.stop_pending && r.a == 0 && r.b == 0 {
            a.stop_pending = false;
            let _ = self
                .events
                .try_send(SafetyEvent::StopConfirmed { terminal, app });
        }
        if ours {
            // Our own gate answers its App (it knows the user's target).
            return vec![];
        }
        let mut corrections = vec![];
        for ch in Channel::BOTH {
            let i = idx(ch);
            let allowed = if blocked { 0 } else { hub.cap(ch) };
            if a.level[i] > allowed {
                let _ = self.events.try_send(SafetyEvent::AppAboveLimit {
                    terminal,
                    channel: ch,
                    reported: a.level[i],
                    to: allowed,
                    allowed,
                });
                a.level[i] = allowed;
                corrections.push(
                    AppCommand::Strength {
                        channel: ch,
                        mode: StrengthMode::Set,
                        value: allowed,
                    }
                    .format(),
                );
            }
        }
        corrections
    }

    fn app_left(&self, app: Uuid) {
        self.apps().remove(&app);
    }
}

/// Installs a policy for `hub` on `relay`, with the task that emits its audit events and
/// re-sends an unconfirmed stop every [`STOP_RETRY`]. Both end with the relay or the hub.
pub(crate) fn install(hub: &Arc<HubInner>, relay: &RelayHandle) -> Arc<RelayPolicy> {
    let (policy, mut rx) = RelayPolicy::new(hub);
    let policy = Arc::new(policy);
    relay.set_app_guard(Some(policy.clone()));
    let weak_hub = Arc::downgrade(hub);
    let weak_policy = Arc::downgrade(&policy);
    let relay = relay.clone();
    let shutdown = hub.shutdown.clone();
    tokio::spawn(async move {
        let mut retry = tokio::time::interval(STOP_RETRY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = rx.recv() => match (ev, weak_hub.upgrade()) {
                    (Some(ev), Some(hub)) => hub.emit(ev),
                    _ => return,
                },
                _ = retry.tick() => {
                    let (Some(hub), Some(policy)) = (weak_hub.upgrade(), weak_policy.upgrade()) else {
                        return;
                    };
                    if relay.is_shut_down() {
                        return;
                    }
                    if hub.block().is_none() {
                        policy.released();
                        continue;
                    }
                    let pending: Vec<Uuid> = policy.unconfirmed().into_iter().map(|(_, a)| a).collect();
                    if !pending.is_empty() {
                        log::warn!("safety: {} App(s) have not confirmed the stop; sending it again", pending.len());
                        relay.to_apps_first(&pending, &ZERO_AND_CLEAR);
                    }
                }
            }
        }
    });
    policy
}

#[cfg(test)]
mod tests {
    //! The policy on its own, against random interleavings of another terminal's commands,
    //! the App's reports (above the cap, garbage), stops, re-arms and cap changes: what it
    //! lets through is judged by an independent model of the App.

    use super::*;
    use crate::safety::{SafetyConfig, SafetyHub};
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8),
        Inc(u8),
        Dec(u8),
        Pulse(u8),
        Clear(u8),
        /// The App reports these levels (the phone's dial, another session, anything).
        Report(u8, u8),
        Garbage(String),
        Stop,
        Rearm,
        Caps(u8, u8),
        Wait(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let ch = 1u8..=2;
        prop_oneof![
            4 => (ch.clone(), 0u8..=200).prop_map(|(c, v)| Op::Set(c, v)),
            2 => ch.clone().prop_map(Op::Inc),
            1 => ch.clone().prop_map(Op::Dec),
            2 => ch.clone().prop_map(Op::Pulse),
            1 => ch.clone().prop_map(Op::Clear),
            2 => (0u8..=200, 0u8..=200).prop_map(|(a, b)| Op::Report(a, b)),
            1 => "[ -~]{0,30}".prop_map(Op::Garbage),
            1 => Just(Op::Stop),
            1 => Just(Op::Rearm),
            1 => (0u8..=200, 0u8..=200).prop_map(|(a, b)| Op::Caps(a, b)),
            3 => (0u64..300).prop_map(Op::Wait),
        ]
    }

    /// Applies what reached the App to the App's level, as the App would.
    fn apply(level: &mut [u8; 2], m: &str) {
        if let Some(AppCommand::Strength {
            channel,
            mode,
            value,
        }) = AppCommand::parse(m)
        {
            let l = &mut level[idx(channel)];
            *l = match mode {
                StrengthMode::Set => value,
                StrengthMode::Increase => l.saturating_add(1).min(200),
                StrengthMode::Decrease => l.saturating_sub(1),
            };
        }
    }

    async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let hub = SafetyHub::new(SafetyConfig {
            cap_a: 40,
            cap_b: 40,
            max_rise_per_sec: 10,
            watchdog: None,
        })
        .unwrap();
        let (policy, _events) = RelayPolicy::new(&hub.inner);
        let (app, terminal) = (Uuid::new_v4(), Uuid::new_v4());
        let mut level = [0u8; 2];
        let mut caps = [40u8; 2];
        for op in ops {
            let stopped = hub.is_latched();
            let sent = match &op {
                Op::Set(c, v) => Some(format!("strength-{c}+2+{v}")),
                Op::Inc(c) => Some(format!("strength-{c}+1+1")),
                Op::Dec(c) => Some(format!("strength-{c}+0+1")),
                Op::Pulse(c) => Some(format!(
                    "pulse-{}:[\"0A0A0A0A64646464\"]",
                    if *c == 1 { "A" } else { "B" }
                )),
                Op::Clear(c) => Some(format!("clear-{c}")),
                _ => None,
            };
            if let Some(m) = sent {
                let delivered = match policy.terminal_sent(app, terminal, &m) {
                    Verdict::Pass => Some(m.clone()),
                    Verdict::Replace(r) => Some(r),
                    Verdict::Refuse => None,
                };
                if let Some(d) = delivered {
                    let before = level;
                    apply(&mut level, &d);
                    for i in 0..2 {
                        prop_assert!(
                            level[i] <= before[i].max(caps[i]),
                            "{d} raised channel {} past its cap {}",
                            i + 1,
                            caps[i]
                        );
                        prop_assert!(
                            !(stopped && level[i] > before[i]),
                            "{d} raised channel {} while stopped",
                            i + 1
                        );
                    }
                    prop_assert!(
                        !(stopped && d.starts_with("pulse-")),
                        "a pulse passed while stopped"
                    );
                }
            }
            match op {
                Op::Report(a, b) => {
                    // The App (or its phone) is now at a/b; its report is answered at once.
                    level = [a, b];
                    let fixes =
                        policy.app_sent(app, terminal, &format!("strength-{a}+{b}+200+200"));
                    for f in &fixes {
                        apply(&mut level, f);
                    }
                    let stopped = hub.is_latched();
                    for i in 0..2 {
                        let allowed = if stopped { 0 } else { caps[i] };
                        prop_assert!(
                            level[i] <= allowed,
                            "after reporting {a}/{b} the App stays at {} on channel {} (allowed {allowed})",
                            level[i], i + 1
                        );
                    }
                }
                Op::Garbage(g) => {
                    prop_assert!(policy.app_sent(app, terminal, &g).is_empty());
                }
                Op::Stop => {
                    hub.emergency_stop();
                    // What the relay does for a stop: the zeros reach the App first.
                    for m in ZERO_AND_CLEAR {
                        apply(&mut level, m);
                    }
                    policy.stopped(&[app]);
                }
                Op::Rearm => hub.rearm(),
                Op::Caps(a, b) => {
                    hub.set_caps(a, b).unwrap();
                    caps = [a, b];
                    // The policy's belief can be above a lowered cap until the App's next
                    // report, which it then answers; model that report now.
                    let fixes = policy.app_sent(
                        app,
                        terminal,
                        &format!("strength-{}+{}+200+200", level[0], level[1]),
                    );
                    for f in &fixes {
                        apply(&mut level, f);
                    }
                }
                Op::Wait(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                _ => {}
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn nothing_another_terminal_sends_passes_the_caps_or_the_stop(
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(run(ops))?;
        }
    }
}
