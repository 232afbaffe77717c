//! [`GuardedTerminal`]: a terminal that can only be reached through the gate.
//!
//! Each guarded terminal has one small driver task. It reads the raw terminal events
//! (pairing, App reports: soft limits and levels), applies them to the gate and re-emits
//! them on [`GuardedEvents`], and it runs the ramp timer. Every decision and the command
//! it produces happen under the gate's own mutex, so a ramp step can never slip in after
//! the emergency stop's 0 or after a lowering request.

use super::error::SafetyError;
use super::event::{Block, FollowChange, Limit, ResetReason, SafetyEvent, STOP_RETRY};
use super::gate::{ChannelGate, Limits};
use super::hub::HubInner;
use crate::protocol::command::{Channel, StrengthReport, MAX_STRENGTH};
use crate::protocol::Frame;
use crate::terminal::{Direction, Terminal, TerminalError, TerminalEvent, TerminalEvents};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, Duration, Instant};
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

/// Where the gate's commands go: a [`Terminal`] in production, a recorder in tests.
pub(crate) trait Output: Send + Sync + 'static {
    fn id(&self) -> Uuid;
    /// The App paired right now (the registry's truth for local terminals).
    fn app(&self) -> Option<Uuid>;
    /// The App's last report since it paired, read at decision time.
    fn last_report(&self) -> Option<StrengthReport>;
    fn set_strength(&self, channel: Channel, value: u8) -> Result<(), TerminalError>;
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), TerminalError>;
    fn clear(&self, channel: Channel) -> Result<(), TerminalError>;
    fn max_pulse_frames(&self) -> usize;
    fn close(&self);
}

impl Output for Terminal {
    fn id(&self) -> Uuid {
        Terminal::id(self)
    }
    fn app(&self) -> Option<Uuid> {
        Terminal::app(self)
    }
    fn last_report(&self) -> Option<StrengthReport> {
        Terminal::last_report(self)
    }
    fn set_strength(&self, channel: Channel, value: u8) -> Result<(), TerminalError> {
        Terminal::set_strength(self, channel, value)
    }
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), TerminalError> {
        Terminal::add_pulses(self, channel, frames)
    }
    fn clear(&self, channel: Channel) -> Result<(), TerminalError> {
        Terminal::clear(self, channel)
    }
    fn max_pulse_frames(&self) -> usize {
        Terminal::max_pulse_frames(self)
    }
    fn close(&self) {
        Terminal::close(self)
    }
}

/// What a strength request led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// The channel.
    pub channel: Channel,
    /// The absolute value asked for (a step is current target ± 1).
    pub asked: u8,
    /// Where the channel is headed: `asked` clamped to the cap and soft limit.
    pub target: u8,
    /// The level sent so far; below `target` while a ramp climbs.
    pub level: u8,
}

/// One channel as the UI may show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ChannelState {
    /// The channel.
    pub channel: Channel,
    /// Where it is headed.
    pub target: u8,
    /// The last value sent.
    pub level: u8,
    /// The ceiling now: `min(cap, soft limit)`, or 0 while latched or lapsed.
    pub ceiling: u8,
    /// A ramp is climbing.
    pub ramping: bool,
    /// The channel follows the App's soft limit (still capped, still ramped).
    pub follow: bool,
}

/// A snapshot of a guarded terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GuardState {
    /// The terminal's id.
    pub terminal: Uuid,
    /// The paired App.
    pub app: Option<Uuid>,
    /// The emergency stop is latched.
    pub latched: bool,
    /// The controller's lease lapsed.
    pub lease_lapsed: bool,
    /// A then B.
    pub channels: [ChannelState; 2],
}

/// The App currently paired and each channel's bookkeeping for it.
#[derive(Debug, Default)]
struct GateState {
    app: Option<Uuid>,
    ch: [ChannelGate; 2],
    /// "Follow the soft limit" per channel; off after any stop or pairing change.
    follow: [bool; 2],
    /// A stop sent to the current App that it has not confirmed with a 0/0 report yet:
    /// when to send it again.
    stop_retry: Option<Instant>,
    /// The soft limit last aimed at while following, so a report that repeats it does
    /// not re-aim (which would undo the user's own lowering).
    followed: [Option<u8>; 2],
}

/// Shared by the handle and the driver task.
pub(crate) struct Gate {
    /// Caps, latch, lease, audit channel.
    hub: Arc<HubInner>,
    /// The only way out to the App.
    out: Box<dyn Output>,
    /// Cached `out.id()` for events.
    id: Uuid,
    /// Decision and send happen under this lock (never held across `.await`).
    st: Mutex<GateState>,
    /// Wakes the driver when a ramp was scheduled from outside it.
    wake: Notify,
}

fn idx(ch: Channel) -> usize {
    match ch {
        Channel::A => 0,
        Channel::B => 1,
    }
}

/// What a strength request asks for before the gate turns it into an absolute target.
#[derive(Debug, Clone, Copy)]
enum Ask {
    Absolute(u8),
    Step(Direction),
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn interval(&self) -> Duration {
        self.hub.interval
    }

    fn limits(&self, ch: Channel, report: Option<StrengthReport>) -> Limits {
        Limits {
            cap: self.hub.cap(ch),
            soft: report.map(|r| match ch {
                Channel::A => r.limit_a,
                Channel::B => r.limit_b,
            }),
            reported: report.map(|r| match ch {
                Channel::A => r.a,
                Channel::B => r.b,
            }),
            blocked: self.hub.block().is_some(),
        }
    }

    /// If the App changed behind the gate's back (a re-pair, a drop), every target and
    /// level restarts at 0 before anything else is decided.
    fn sync_app(&self, st: &mut GateState, now: Instant) {
        let app = self.out.app();
        if app == st.app {
            return;
        }
        st.app = app;
        // A new App gets its own zeros below; a stop pending for the old one is moot.
        st.stop_retry = None;
        for c in &mut st.ch {
            c.reset(now);
        }
        self.unfollow(
            st,
            if app.is_some() {
                FollowChange::Paired
            } else {
                FollowChange::AppLeft
            },
        );
        let why = if app.is_some() {
            // Whatever level the App arrives with (another controller, a previous session),
            // it starts from 0 with empty queues before anything else is sent to it.
            let _ = self.zero_and_clear();
            ResetReason::Paired
        } else {
            ResetReason::AppLeft
        };
        self.hub.emit(SafetyEvent::Reset {
            terminal: self.id,
            app,
            why,
        });
    }

    /// Switches following off on both channels (audited for each that was on).
    fn unfollow(&self, st: &mut GateState, why: FollowChange) {
        for ch in Channel::BOTH {
            let i = idx(ch);
            st.followed[i] = None;
            if std::mem::take(&mut st.follow[i]) {
                self.hub.emit(SafetyEvent::FollowSoftLimit {
                    terminal: self.id,
                    channel: ch,
                    on: false,
                    why,
                });
            }
        }
    }

    /// Switches following on or off for one channel; on aims at the soft limit now.
    fn set_follow(&self, ch: Channel, on: bool) -> Result<(), SafetyError> {
        {
            let mut st = self.lock();
            self.sync_app(&mut st, Instant::now());
            if on {
                // Following raises by itself later: refused while anything blocks raises.
                if let Some(why) = self.hub.block() {
                    self.hub.emit(SafetyEvent::Refused {
                        terminal: self.id,
                        channel: Some(ch),
                        why,
                    });
                    return Err(why.into());
                }
            }
            let i = idx(ch);
            st.followed[i] = None;
            if st.follow[i] != on {
                st.follow[i] = on;
                self.hub.emit(SafetyEvent::FollowSoftLimit {
                    terminal: self.id,
                    channel: ch,
                    on,
                    why: FollowChange::User,
                });
            }
        }
        if on {
            self.follow_soft_limits();
        }
        Ok(())
    }

    /// Aims each following channel at the App's soft limit when it is new.
    fn follow_soft_limits(&self) {
        let Some(report) = self.out.last_report() else {
            return;
        };
        for ch in Channel::BOTH {
            let soft = match ch {
                Channel::A => report.limit_a,
                Channel::B => report.limit_b,
            };
            let aim = {
                let mut st = self.lock();
                let i = idx(ch);
                let aim = st.follow[i] && st.followed[i] != Some(soft);
                if aim {
                    st.followed[i] = Some(soft);
                }
                aim
            };
            // Through the normal path: capped, ramped, refused while blocked.
            if aim {
                let _ = self.request(ch, Ask::Absolute(soft));
            }
        }
    }

    /// 0 on both channels and both queues cleared, all four tried whatever fails.
    fn zero_and_clear(&self) -> Result<(), TerminalError> {
        let results = [
            self.out.set_strength(Channel::A, 0),
            self.out.set_strength(Channel::B, 0),
            self.out.clear(Channel::A),
            self.out.clear(Channel::B),
        ];
        let failed = results.into_iter().find_map(Result::err);
        if let Some(e) = &failed {
            log::warn!("safety: terminal {}: zeroing its App failed: {e}", self.id);
        }
        failed.map_or(Ok(()), Err)
    }

    /// Sends `v`; on failure restores the channel's bookkeeping (so the gate never
    /// believes the App is higher than it is) but keeps the target and retries later.
    fn send_level(
        &self,
        c: &mut ChannelGate,
        before: ChannelGate,
        ch: Channel,
        v: u8,
        now: Instant,
    ) -> Result<(), TerminalError> {
        self.out.set_strength(ch, v).map_err(|e| {
            let target = c.target;
            *c = before;
            c.target = target;
            c.next_due = Some(now + self.interval());
            self.wake.notify_one();
            log::warn!(
                "safety: terminal {} channel {ch}: sending {v} failed: {e}",
                self.id
            );
            e
        })
    }

    fn request(&self, ch: Channel, ask: Ask) -> Result<Outcome, SafetyError> {
        let now = Instant::now();
        let mut st = self.lock();
        self.sync_app(&mut st, now);
        if st.app.is_none() {
            return Err(TerminalError::NotPaired.into());
        }
        let lim = self.limits(ch, self.out.last_report());
        let c = &mut st.ch[idx(ch)];
        let asked = match ask {
            Ask::Absolute(v) if v > MAX_STRENGTH => {
                return Err(TerminalError::StrengthOutOfRange(v.into()).into())
            }
            Ask::Absolute(v) => v,
            Ask::Step(Direction::Up) => c.target.saturating_add(1).min(MAX_STRENGTH),
            // One below where the App is now (not below the target, which during a ramp
            // is still above it: "−1" must never keep raising).
            Ask::Step(Direction::Down) => c.target.min(c.current(&lim)).saturating_sub(1),
        };
        if asked > 0 {
            if let Some(why) = self.hub.block() {
                self.hub.emit(SafetyEvent::Refused {
                    terminal: self.id,
                    channel: Some(ch),
                    why,
                });
                return Err(why.into());
            }
        }
        let before = c.clone();
        if let Some((to, by)) = c.aim(asked, &lim) {
            self.hub.emit(SafetyEvent::Clamped {
                terminal: self.id,
                channel: ch,
                asked,
                to,
                by,
            });
        }
        let from = c.current(&lim);
        if let Some(v) = c.settle(&lim, now, self.interval()) {
            if let Err(e) = self.send_level(c, before.clone(), ch, v, now) {
                // The caller hears the failure, so its raise is forgotten; a lowering
                // is kept (and retried by the driver) because lower is always safe.
                c.target = c.target.min(before.target);
                return Err(e.into());
            }
        }
        if c.next_due.is_some() {
            // One audit line per request that starts or retargets a ramp, not per step.
            if c.target != before.target || before.next_due.is_none() {
                self.hub.emit(SafetyEvent::Ramping {
                    terminal: self.id,
                    channel: ch,
                    from,
                    to: c.target,
                });
            }
            self.wake.notify_one();
        }
        Ok(Outcome {
            channel: ch,
            asked,
            target: c.target,
            level: c.level,
        })
    }

    /// Re-applies the limits to both channels (a cap, soft limit or latch changed) and
    /// runs any ramp step that is due.
    pub(crate) fn settle_all(&self, by: Limit) {
        let now = Instant::now();
        let mut st = self.lock();
        self.sync_app(&mut st, now);
        if st.app.is_none() {
            return;
        }
        let report = self.out.last_report();
        for ch in Channel::BOTH {
            let lim = self.limits(ch, report);
            let c = &mut st.ch[idx(ch)];
            let before = c.clone();
            if let Some(v) = c.settle(&lim, now, self.interval()) {
                if self.send_level(c, before.clone(), ch, v, now).is_ok() && v < before.level {
                    self.hub.emit(SafetyEvent::Lowered {
                        terminal: self.id,
                        channel: ch,
                        to: v,
                        by,
                    });
                }
            }
        }
    }

    /// Emergency stop / watchdog: 0 on both channels and both queues cleared, always
    /// sent (whatever the gate believes the level is). `Ok(false)` when no App is paired.
    pub(crate) fn halt(&self, already_sent: &[Uuid]) -> Result<bool, TerminalError> {
        let now = Instant::now();
        let mut st = self.lock();
        self.sync_app(&mut st, now);
        for c in &mut st.ch {
            c.halt(now);
        }
        self.unfollow(&mut st, FollowChange::Stopped);
        let Some(app) = st.app else {
            return Ok(false);
        };
        if already_sent.contains(&app) {
            // The relay-wide stop reached this App ahead of its queue, and the relay's
            // policy follows its confirmation.
            st.stop_retry = None;
            return Ok(true);
        }
        // Confirmed at once if the App last said 0/0: a 0 that changes nothing makes the
        // App send no report. Otherwise the driver re-sends until it reports 0/0.
        let at_zero = self.out.last_report().is_some_and(|r| r.a == 0 && r.b == 0);
        st.stop_retry = (!at_zero).then_some(now + STOP_RETRY);
        if st.stop_retry.is_some() {
            self.wake.notify_one();
        }
        self.zero_and_clear()?;
        Ok(true)
    }

    fn on_event(&self, ev: &TerminalEvent) {
        let now = Instant::now();
        match ev {
            TerminalEvent::AppLeft { app } => {
                let mut st = self.lock();
                if st.app == Some(*app) {
                    st.app = None;
                    st.stop_retry = None;
                    for c in &mut st.ch {
                        c.reset(now);
                    }
                    self.unfollow(&mut st, FollowChange::AppLeft);
                    self.hub.emit(SafetyEvent::Reset {
                        terminal: self.id,
                        app: None,
                        why: ResetReason::AppLeft,
                    });
                }
                self.sync_app(&mut st, now);
            }
            TerminalEvent::Paired { .. } => self.sync_app(&mut self.lock(), now),
            TerminalEvent::Strength(r) => {
                {
                    let mut st = self.lock();
                    self.sync_app(&mut st, now);
                    if let (Some(app), true) = (st.app, r.a == 0 && r.b == 0) {
                        if st.stop_retry.take().is_some() {
                            self.hub.emit(SafetyEvent::StopConfirmed {
                                terminal: self.id,
                                app,
                            });
                        }
                    }
                    if st.app.is_some() {
                        for (ch, v) in [(Channel::A, r.a), (Channel::B, r.b)] {
                            let lim = self.limits(ch, Some(*r));
                            let c = &mut st.ch[idx(ch)];
                            if let Some(to) = c.on_report(v, now) {
                                self.hub.emit(SafetyEvent::AppLowered {
                                    terminal: self.id,
                                    channel: ch,
                                    to,
                                });
                            }
                            // Above what is allowed: down at once, answering this report.
                            let before = c.clone();
                            if let Some(to) = c.correct(v, &lim, now) {
                                let _ = self.send_level(c, before, ch, to, now);
                                self.hub.emit(SafetyEvent::AppAboveLimit {
                                    terminal: self.id,
                                    channel: ch,
                                    reported: v,
                                    to,
                                    allowed: lim.allowed(),
                                });
                            }
                        }
                    }
                }
                // A lower soft limit pulls the level down now.
                self.settle_all(Limit::SoftLimit);
                self.follow_soft_limits();
            }
            _ => {}
        }
    }

    /// Runs every ramp step that is due, and re-sends an unconfirmed stop.
    fn tick(&self) {
        let now = Instant::now();
        let mut st = self.lock();
        self.sync_app(&mut st, now);
        if st.app.is_none() {
            // Nothing to drive; never leave a timer behind that the driver would spin on.
            st.stop_retry = None;
            for c in &mut st.ch {
                c.next_due = None;
            }
            return;
        }
        if let Some(due) = st.stop_retry {
            if self.hub.block().is_none() {
                // Released before the App confirmed: the user is back in control.
                st.stop_retry = None;
            } else if due <= now {
                st.stop_retry = Some(now + STOP_RETRY);
                log::warn!(
                    "safety: terminal {}: the App has not confirmed the stop; sending it again",
                    self.id
                );
                let _ = self.zero_and_clear();
            }
        }
        let report = self.out.last_report();
        for ch in Channel::BOTH {
            let lim = self.limits(ch, report);
            let c = &mut st.ch[idx(ch)];
            if c.next_due.is_some_and(|d| d <= now) {
                let before = c.clone();
                if let Some(v) = c.settle(&lim, now, self.interval()) {
                    let _ = self.send_level(c, before, ch, v, now);
                }
            }
        }
    }

    fn next_due(&self) -> Option<Instant> {
        let st = self.lock();
        st.ch
            .iter()
            .filter_map(|c| c.next_due)
            .chain(st.stop_retry)
            .min()
    }

    /// The App this gate sent a stop that it has not confirmed yet.
    pub(crate) fn unconfirmed(&self) -> Option<Uuid> {
        let st = self.lock();
        st.stop_retry.and(st.app)
    }

    fn pulses(&self, ch: Channel, frames: &[Frame]) -> Result<(), SafetyError> {
        let mut st = self.lock();
        self.sync_app(&mut st, Instant::now());
        // Checked under the gate lock: the emergency stop's clear, which takes the same
        // lock after setting the latch, always comes after any pulse that got through.
        self.admit_pulses(ch)?;
        Ok(self.out.add_pulses(ch, frames)?)
    }

    /// Refuses (and audits) pulses while latched or lapsed. Only reads the hub's flags.
    fn admit_pulses(&self, ch: Channel) -> Result<(), SafetyError> {
        if let Some(why) = self.hub.block() {
            self.hub.emit(SafetyEvent::Refused {
                terminal: self.id,
                channel: Some(ch),
                why,
            });
            return Err(why.into());
        }
        Ok(())
    }

    pub(crate) fn id(&self) -> Uuid {
        self.id
    }

    /// The App paired right now, as the gate last synced it.
    pub(crate) fn app(&self) -> Option<Uuid> {
        self.lock().app
    }

    pub(crate) fn state(&self) -> GuardState {
        let mut st = self.lock();
        self.sync_app(&mut st, Instant::now());
        let report = self.out.last_report();
        let one = |ch: Channel| {
            let lim = self.limits(ch, report);
            let c = &st.ch[idx(ch)];
            ChannelState {
                channel: ch,
                target: c.target,
                level: c.level,
                ceiling: lim.allowed(),
                ramping: c.next_due.is_some(),
                follow: st.follow[idx(ch)],
            }
        };
        GuardState {
            terminal: self.id,
            app: st.app,
            latched: self.hub.latched(),
            lease_lapsed: self.hub.lapsed(),
            channels: [one(Channel::A), one(Channel::B)],
        }
    }
}

/// The driver: raw events in, guarded events out, ramp steps on time.
async fn drive(
    gate: Arc<Gate>,
    mut raw: TerminalEvents,
    tx: mpsc::Sender<TerminalEvent>,
    stop: CancellationToken,
) {
    // Events the window (or log) was too slow to take: the gate has applied them all the
    // same; only the display misses them, counted and said once per burst.
    let mut dropped = 0u64;
    loop {
        let due = gate.next_due();
        let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            ev = raw.recv() => match ev {
                Some(ev) => {
                    gate.on_event(&ev);
                    // Nobody listening is fine: the gate still needs the events itself.
                    match tx.try_send(ev) {
                        Ok(()) if dropped > 0 => {
                            log::warn!("safety: terminal {}: {dropped} event(s) not shown (the reader fell behind)", gate.id);
                            dropped = 0;
                        }
                        Err(mpsc::error::TrySendError::Full(_)) => dropped += 1,
                        _ => {}
                    }
                }
                None => return,
            },
            _ = sleep_until(due.unwrap_or(far)), if due.is_some() => gate.tick(),
            _ = gate.wake.notified() => {}
        }
    }
}

/// Owned by every clone of a [`GuardedTerminal`]; the last one stops the driver, which
/// drops the gate and with it the terminal (its App gets `break` 209).
struct Handle {
    gate: Arc<Gate>,
    _stop: DropGuard,
}

/// The only strength path: every command passes the gate. Cheap to clone.
///
/// Its pulse methods mirror [`Terminal`]'s so a player's output trait can be implemented
/// by delegation; they return [`SafetyError`] (whose `Terminal` variant carries the
/// terminal's own errors) because a latched gate refuses pulses.
#[derive(Clone)]
pub struct GuardedTerminal {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for GuardedTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedTerminal")
            .field("id", &self.inner.gate.id)
            .finish()
    }
}

/// The terminal's events, re-emitted after the gate has seen them.
#[derive(Debug)]
pub struct GuardedEvents {
    rx: mpsc::Receiver<TerminalEvent>,
}

impl GuardedEvents {
    /// The next event; `None` once the terminal is gone and every event was read.
    pub async fn recv(&mut self) -> Option<TerminalEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<TerminalEvent> {
        self.rx.try_recv().ok()
    }
}

/// Wraps `out` in a gate registered with `hub` and spawns its driver.
pub(crate) fn guard(
    hub: Arc<HubInner>,
    out: Box<dyn Output>,
    raw: TerminalEvents,
) -> (GuardedTerminal, GuardedEvents) {
    let id = out.id();
    let now = Instant::now();
    let mut st = GateState {
        app: out.app(),
        ..GateState::default()
    };
    for c in &mut st.ch {
        // Whatever happened before the gate existed, its targets start at 0.
        c.reset(now);
    }
    let already_paired = st.app.is_some();
    let gate = Arc::new(Gate {
        hub: hub.clone(),
        out,
        id,
        st: Mutex::new(st),
        wake: Notify::new(),
    });
    hub.add_gate(&gate);
    if already_paired {
        // An App paired before the gate existed is treated as newly paired.
        let _st = gate.lock();
        let _ = gate.zero_and_clear();
    }
    let (tx, rx) = mpsc::channel(crate::terminal::EVENT_QUEUE);
    let stop = CancellationToken::new();
    tokio::spawn(drive(gate.clone(), raw, tx, stop.clone()));
    (
        GuardedTerminal {
            inner: Arc::new(Handle {
                gate,
                _stop: stop.drop_guard(),
            }),
        },
        GuardedEvents { rx },
    )
}

impl GuardedTerminal {
    fn gate(&self) -> &Gate {
        &self.inner.gate
    }

    /// The terminal's id (its `clientId`).
    pub fn id(&self) -> Uuid {
        self.gate().id
    }

    /// The paired App, if any.
    pub fn app(&self) -> Option<Uuid> {
        self.gate().out.app()
    }

    /// What the App scans (see [`Terminal::pairing_url`]).
    pub fn pairing_url(&self, base: &str) -> String {
        crate::pairing::pairing_url(base, self.id())
    }

    /// The App's last strength report since it paired.
    pub fn last_report(&self) -> Option<StrengthReport> {
        self.gate().out.last_report()
    }

    /// Aims a channel at `value`: clamped to the cap and the App's soft limit; a lower
    /// value is sent at once, a higher one is climbed by +1 steps at the configured rate.
    ///
    /// # Errors
    /// [`SafetyError::Latched`] / [`SafetyError::LeaseLapsed`] for a value above 0 while
    /// blocked; [`SafetyError::Terminal`] with `StrengthOutOfRange` above 200, `NotPaired`,
    /// or whatever sending the first step met (a raise is then forgotten).
    pub fn set_strength(&self, channel: Channel, value: u8) -> Result<Outcome, SafetyError> {
        self.gate().request(channel, Ask::Absolute(value))
    }

    /// Moves a channel's *target* one step: `target ± 1`, then exactly as
    /// [`GuardedTerminal::set_strength`]. The App only ever receives absolute values.
    ///
    /// # Errors
    /// As [`GuardedTerminal::set_strength`].
    pub fn step(&self, channel: Channel, direction: Direction) -> Result<Outcome, SafetyError> {
        self.gate().request(channel, Ask::Step(direction))
    }

    /// Appends frames to a channel's queue at the App (same rules as
    /// [`Terminal::add_pulses`]).
    ///
    /// # Errors
    /// [`SafetyError::Latched`] / [`SafetyError::LeaseLapsed`] while blocked; otherwise the
    /// terminal's errors (frame count, too long, not paired, closed).
    pub fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), SafetyError> {
        self.gate().pulses(channel, frames)
    }

    /// Makes a channel follow the App's soft limit: whenever the App reports a new one the
    /// channel aims at it, through the same caps and ramp as any request. Any stop, the
    /// watchdog and any pairing change switch it off again, and re-arming does not switch
    /// it back on: nothing rises by itself.
    ///
    /// # Errors
    /// [`SafetyError::Latched`] / [`SafetyError::LeaseLapsed`] when switching on while
    /// blocked (switching off always works).
    pub fn set_follow_soft_limit(&self, channel: Channel, on: bool) -> Result<(), SafetyError> {
        self.gate().set_follow(channel, on)
    }

    /// Whether [`GuardedTerminal::add_pulses`] would be refused right now by the latch or
    /// a lapsed lease (audited like a refused send), so a player can fail `play()` at
    /// once. Takes no lock; `add_pulses` re-checks under the gate's lock.
    ///
    /// # Errors
    /// [`SafetyError::Latched`] / [`SafetyError::LeaseLapsed`].
    pub fn check_pulses(&self, channel: Channel) -> Result<(), SafetyError> {
        self.gate().admit_pulses(channel)
    }

    /// Empties a channel's queue at the App; always allowed (it only makes things quieter).
    ///
    /// # Errors
    /// The terminal's errors (not paired, closed).
    pub fn clear(&self, channel: Channel) -> Result<(), SafetyError> {
        let gate = self.gate();
        let _st = gate.lock();
        Ok(gate.out.clear(channel)?)
    }

    /// Most frames one `add_pulses` call can carry.
    pub fn max_pulse_frames(&self) -> usize {
        self.gate().out.max_pulse_frames()
    }

    /// Targets, levels, ceilings and the hub's blocks, for display.
    pub fn state(&self) -> GuardState {
        self.gate().state()
    }

    /// Removes the terminal now: its App gets `break` 209.
    pub fn close(&self) {
        self.gate().out.close();
    }
}

impl From<Block> for SafetyError {
    fn from(b: Block) -> Self {
        match b {
            Block::Latched => SafetyError::Latched,
            Block::LeaseLapsed => SafetyError::LeaseLapsed,
        }
    }
}
