//! The safety layer: every strength change passes one tested gate.
//!
//! The box sends current through a person, so a strength nobody asked for is the worst
//! bug this product can ship. [`SafetyHub::guard`] wraps a [`Terminal`] into a
//! [`GuardedTerminal`], which is the only strength path the desktop app, API clients and
//! waveform players use. The rules, in the order the gate applies them:
//!
//! 1. **Caps.** Each channel has a user cap (default 40). Every absolute request is
//!    clamped to `min(cap, App soft limit)` once the App has reported its soft limit. A
//!    step is turned into an absolute target (`target ± 1`, clamped): the App never
//!    receives a relative command from the gate. Lowering a cap pulls every channel above
//!    it down at once; raising it raises nothing.
//! 2. **Rise rate.** A raise is a ramp of absolute `strength-<ch>+2+N` commands, each
//!    `+1` above the App's current level (`min(last sent, last reported)`), at least
//!    `1 s / max_rise_per_sec` apart (default 100 ms). The first step goes at once if the
//!    channel's previous raise is old enough. Once the App has reported, each step also
//!    waits for the App to confirm the previous one, so over a slow link a ramp goes at
//!    the link's pace and a lost or ignored command stalls it instead of being outrun.
//! 3. **Lowering is immediate** and replaces any ramp in progress. If the App reports a
//!    level below what was sent that is not an echo of a recent send (the phone's dial,
//!    the App's own limit), the target follows it down: the gate never climbs back
//!    against the person holding the phone.
//! 4. **Emergency stop** ([`SafetyHub::emergency_stop`]): for every App paired with a
//!    guarded terminal, `strength-1+2+0`, `strength-2+2+0`, `clear-1`, `clear-2`; then
//!    every stop hook ([`Stoppable`]) runs. It **latches**: nothing above 0 and no pulses
//!    until [`SafetyHub::rearm`], and re-arming restores nothing (targets stay 0).
//! 5. **Watchdog** ([`watchdog`]): with a lease configured, a controller that stops
//!    calling [`SafetyHub::renew_lease`] gets the same 0/0/clear/clear and stopped hooks;
//!    requests above 0 are refused until it renews.
//! 6. **Re-pair.** When an App pairs, re-pairs or leaves, both targets and levels restart
//!    at 0 and ramps are dropped. The gate compares the terminal's paired App before
//!    every decision, so a ramp step can never reach a newly paired App.
//! 7. **Audit.** Every decision that changed or refused a request is a [`SafetyEvent`]
//!    on [`SafetyHub::subscribe`] and a `log` line.
//!
//! Give the hub your only [`Terminal`] handle: a clone kept elsewhere bypasses the gate.
//! Time comes from `tokio::time`, so tests run the ramps on a paused clock.
//!
//! Files: [`config`] (settings and their validation), `hub` (the shared state behind
//! [`SafetyHub`]), `error` ([`SafetyError`]), `gate` (the pure per-channel
//! rules), `guarded` (the guarded terminal and its driver task), [`stop`] (hooks),
//! [`watchdog`], [`event`] (the audit events).

pub mod config;
mod error;
pub mod event;
mod gate;
mod guarded;
mod hub;
mod policy;
pub mod stop;
#[cfg(test)]
mod tests;
mod v4_guarded;
mod v4_policy;
pub mod watchdog;

pub use config::{ConfigError, SafetyConfig};
pub use error::SafetyError;
pub use event::{Block, FollowChange, Limit, ResetReason, SafetyEvent, StopReport, STOP_RETRY};
pub use guarded::{ChannelState, GuardState, GuardedEvents, GuardedTerminal, Outcome};
pub use stop::{StopRegistration, Stoppable};
pub use v4_guarded::GuardedV4Controller;

use crate::protocol::command::Channel;
use crate::terminal::{Terminal, TerminalEvents};
use guarded::Output;
use hub::HubInner;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Audit events buffered per subscriber before it starts missing them.
const EVENT_CAPACITY: usize = 1024;

/// The safety hub: caps, latch, lease and audit shared by every guarded terminal.
/// Cheap to clone; every clone is the same hub.
#[derive(Clone)]
pub struct SafetyHub {
    inner: Arc<HubInner>,
}

impl std::fmt::Debug for SafetyHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetyHub")
            .field("caps", &[self.cap(Channel::A), self.cap(Channel::B)])
            .field("latched", &self.is_latched())
            .field("lease_lapsed", &self.lease_lapsed())
            .finish()
    }
}

impl SafetyHub {
    /// A hub with `config`'s caps, rate and lease. With a lease it spawns the watchdog,
    /// and the lease starts now.
    ///
    /// # Errors
    /// [`ConfigError`] if the config is out of range.
    ///
    /// # Panics
    /// With a lease configured, outside a Tokio runtime.
    pub fn new(config: SafetyConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let inner = Arc::new(HubInner {
            interval: config.rise_interval(),
            lease: config.watchdog,
            caps: [AtomicU8::new(config.cap_a), AtomicU8::new(config.cap_b)],
            latched: AtomicBool::new(false),
            lapsed: AtomicBool::new(false),
            gates: Mutex::new(vec![]),
            hooks: Mutex::new(HashMap::new()),
            next_hook: AtomicU64::new(0),
            events,
            deadline: Mutex::new(Instant::now() + config.watchdog.unwrap_or_default()),
            lease_changed: Arc::new(Notify::new()),
            shutdown: CancellationToken::new(),
            relays: Mutex::new(vec![]),
            v4_relays: Mutex::new(vec![]),
            v4_gates: Mutex::new(vec![]),
        });
        if config.watchdog.is_some() {
            watchdog::spawn(
                Arc::downgrade(&inner),
                inner.lease_changed.clone(),
                inner.shutdown.clone(),
            );
        }
        Ok(SafetyHub { inner })
    }

    /// Puts `terminal` behind the gate. The hub reads `events` itself (to learn pairings
    /// and soft limits) and re-emits every one on the returned [`GuardedEvents`]. Pass
    /// the only handle: a clone of `terminal` kept elsewhere would bypass the gate.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the terminal's driver task).
    pub fn guard(
        &self,
        terminal: Terminal,
        events: TerminalEvents,
    ) -> (GuardedTerminal, GuardedEvents) {
        self.guard_output(Box::new(terminal), events)
    }

    pub(crate) fn guard_output(
        &self,
        out: Box<dyn Output>,
        events: TerminalEvents,
    ) -> (GuardedTerminal, GuardedEvents) {
        guarded::guard(self.inner.clone(), out, events)
    }

    /// Emergency stop: latches, then sends `strength-1+2+0`, `strength-2+2+0`, `clear-1`,
    /// `clear-2` to every App paired with a guarded terminal, then runs every stop hook.
    /// Synchronous: when it returns, every message is queued to its socket.
    pub fn emergency_stop(&self) -> StopReport {
        self.inner.latched.store(true, Ordering::SeqCst);
        let report = self.inner.halt_all();
        self.inner.emit(SafetyEvent::EmergencyStop(report.clone()));
        report
    }

    /// `(terminal, App)` of every App that was sent a stop and has not yet reported 0/0.
    pub fn unconfirmed_stops(&self) -> Vec<(uuid::Uuid, uuid::Uuid)> {
        let mut v: Vec<_> = self
            .inner
            .gates()
            .iter()
            .filter_map(|g| g.unconfirmed().map(|app| (g.id(), app)))
            .collect();
        for (_, policy) in self.inner.relays() {
            v.extend(policy.unconfirmed());
        }
        v.sort();
        v.dedup_by_key(|(_, app)| *app);
        v
    }

    /// Makes this hub's caps and stop bind every App on `relay`, whoever drives it: frames
    /// bound for any App pass the hub's policy (caps clamp, raises above the cap or while
    /// stopped are refused with `423`, other terminals rise at most at the hub's rate), an
    /// App reporting above what is allowed is sent back down, and the emergency stop
    /// reaches every App on the relay first, ahead of anything queued for it.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the policy's task).
    pub fn guard_relay(&self, relay: &crate::relay::RelayHandle) {
        let policy = policy::install(&self.inner, relay);
        self.inner
            .relays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((relay.clone(), policy));
    }

    /// Releases the emergency stop latch. Targets stay 0: nothing is restored.
    pub fn rearm(&self) {
        if self.inner.latched.swap(false, Ordering::SeqCst) {
            self.inner.emit(SafetyEvent::Rearmed);
        }
    }

    /// Whether the emergency stop is latched.
    pub fn is_latched(&self) -> bool {
        self.inner.latched()
    }

    /// The cap of one channel.
    pub fn cap(&self, channel: Channel) -> u8 {
        self.inner.cap(channel)
    }

    /// Sets both caps. A channel above its new cap is lowered at once; raising a cap
    /// raises nothing (the next request may go higher).
    ///
    /// # Errors
    /// [`ConfigError::Cap`] for a cap above 200 (nothing changes).
    pub fn set_caps(&self, cap_a: u8, cap_b: u8) -> Result<(), ConfigError> {
        config::check_cap(Channel::A, cap_a)?;
        config::check_cap(Channel::B, cap_b)?;
        self.inner.caps[0].store(cap_a, Ordering::SeqCst);
        self.inner.caps[1].store(cap_b, Ordering::SeqCst);
        self.inner.emit(SafetyEvent::CapsChanged { cap_a, cap_b });
        for g in self.inner.gates() {
            g.settle_all(Limit::Cap);
        }
        for (relay, policy) in self.inner.v4_relays() {
            relay.to_apps_first(None, &|a| policy.cap_corrections(a), false);
        }
        for g in self.inner.v4_gates() {
            g.settle_caps();
        }
        Ok(())
    }

    /// Renews the controller's lease for another period; after a lapse it also lifts the
    /// block (targets stay 0). Does nothing when the watchdog is off.
    pub fn renew_lease(&self) {
        let Some(lease) = self.inner.lease else {
            return;
        };
        *self
            .inner
            .deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Instant::now() + lease;
        if self.inner.lapsed.swap(false, Ordering::SeqCst) {
            self.inner.emit(SafetyEvent::LeaseRenewed);
        }
        self.inner.lease_changed.notify_one();
    }

    /// Whether the lease lapsed and has not been renewed since.
    pub fn lease_lapsed(&self) -> bool {
        self.inner.lapsed()
    }

    /// Every audit event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SafetyEvent> {
        self.inner.events.subscribe()
    }

    /// Registers a hook the emergency stop and the watchdog call (a player's
    /// `CancellationToken`, or any `Fn() + Send + Sync`). It stays registered while the
    /// returned registration lives.
    pub fn register_stop<S: Stoppable + 'static>(&self, hook: S) -> StopRegistration {
        let id = self.inner.next_hook.fetch_add(1, Ordering::Relaxed);
        self.inner.hooks().insert(id, Arc::new(hook));
        StopRegistration {
            hub: Arc::downgrade(&self.inner),
            id,
        }
    }
}
