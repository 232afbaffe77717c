//! The hub's shared state: caps, latch, lease, the live gates and stop hooks, the audit
//! channel. [`super::SafetyHub`] is its public face; the gates, stop hooks and the
//! watchdog reach it through here.

use super::event::{Block, SafetyEvent, StopReport};
use super::guarded::Gate;
use super::policy::{RelayPolicy, ZERO_AND_CLEAR};
use super::stop;
use super::v4_guarded::V4Gate;
use super::v4_policy::V4Policy;
use crate::protocol::command::Channel;
use crate::relay::v4::V4Handle;
use crate::relay::RelayHandle;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::{broadcast, Notify};
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The hub's state; gates hold it strongly, it holds gates weakly.
pub(crate) struct HubInner {
    /// Time between two raises of one channel, from the config.
    pub(super) interval: Duration,
    /// The lease length, `None` when the watchdog is off.
    pub(super) lease: Option<Duration>,
    /// The user's caps, read by every decision without taking a lock.
    pub(super) caps: [AtomicU8; 2],
    /// Set first by the emergency stop, then read under each gate's lock, so no command
    /// that passes the gate after the stop's 0 can be above 0.
    pub(super) latched: AtomicBool,
    /// Set by the watchdog, cleared by `renew_lease`.
    pub(super) lapsed: AtomicBool,
    /// Every guarded terminal still alive, for the emergency stop and cap changes.
    pub(super) gates: Mutex<Vec<Weak<Gate>>>,
    /// Stop hooks by registration id; called outside the lock so a hook may unregister.
    pub(super) hooks: Mutex<HashMap<u64, stop::Hook>>,
    pub(super) next_hook: AtomicU64,
    /// The audit channel.
    pub(super) events: broadcast::Sender<SafetyEvent>,
    /// When the lease lapses unless renewed.
    pub(super) deadline: Mutex<Instant>,
    /// Wakes the watchdog when the lease is renewed.
    pub(super) lease_changed: Arc<Notify>,
    /// Ends the watchdog task when the hub goes.
    pub(super) shutdown: CancellationToken,
    /// Relays whose every App this hub's caps and stop bind, with their policies.
    pub(super) relays: Mutex<Vec<(RelayHandle, Arc<RelayPolicy>)>>,
    /// V4 relays (DG-LAB App 4.x) likewise bound, with their policies.
    pub(super) v4_relays: Mutex<Vec<(V4Handle, Arc<V4Policy>)>>,
    /// Guarded V4 controllers still alive.
    pub(super) v4_gates: Mutex<Vec<Weak<V4Gate>>>,
}

impl std::fmt::Debug for HubInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubInner").finish_non_exhaustive()
    }
}

impl Drop for HubInner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl HubInner {
    pub(crate) fn cap(&self, ch: Channel) -> u8 {
        self.caps[match ch {
            Channel::A => 0,
            Channel::B => 1,
        }]
        .load(Ordering::SeqCst)
    }

    pub(crate) fn latched(&self) -> bool {
        self.latched.load(Ordering::SeqCst)
    }

    pub(crate) fn lapsed(&self) -> bool {
        self.lapsed.load(Ordering::SeqCst)
    }

    /// Why nothing above 0 may be sent right now, if anything.
    pub(crate) fn block(&self) -> Option<Block> {
        if self.latched() {
            Some(Block::Latched)
        } else if self.lapsed() {
            Some(Block::LeaseLapsed)
        } else {
            None
        }
    }

    pub(crate) fn emit(&self, ev: SafetyEvent) {
        ev.log();
        let _ = self.events.send(ev);
    }

    pub(crate) fn hooks(&self) -> MutexGuard<'_, HashMap<u64, stop::Hook>> {
        self.hooks.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn gates(&self) -> Vec<Arc<Gate>> {
        let mut list = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|g| g.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    }

    /// Whether `terminal` is one of this hub's guarded terminals (which ramp by themselves).
    pub(crate) fn is_gated(&self, terminal: uuid::Uuid) -> bool {
        let list = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .filter_map(Weak::upgrade)
            .any(|g| g.id() == terminal)
    }

    pub(super) fn relays(&self) -> Vec<(RelayHandle, Arc<RelayPolicy>)> {
        self.relays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn v4_relays(&self) -> Vec<(V4Handle, Arc<V4Policy>)> {
        self.v4_relays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn v4_gates(&self) -> Vec<Arc<V4Gate>> {
        let mut list = self.v4_gates.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|g| g.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    }

    pub(crate) fn add_gate(&self, gate: &Arc<Gate>) {
        let mut list = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|g| g.strong_count() > 0);
        list.push(Arc::downgrade(gate));
    }

    pub(crate) fn lease_deadline(&self) -> Instant {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// 0/0/clear/clear to every App, then every hook. The caller set its block flag
    /// first, so nothing above 0 can follow.
    pub(super) fn halt_all(&self) -> StopReport {
        let start = std::time::Instant::now();
        let gates = self.gates();
        let mut report = StopReport {
            terminals: gates.len(),
            apps: 0,
            stopped_hooks: 0,
            failures: vec![],
            unconfirmed: vec![],
            elapsed: std::time::Duration::ZERO,
        };
        // Every App on every guarded relay first, ahead of whatever is queued for it (which
        // is dropped); then each gate, which skips the frames for an App already reached.
        let mut reached = vec![];
        for (relay, policy) in self.relays() {
            let apps = relay.to_every_app_first(&ZERO_AND_CLEAR);
            policy.stopped(&apps);
            reached.extend(apps);
        }
        report.apps = reached.len();
        // Every V4 App likewise: every task cleared, 0 on every channel of every slot.
        for (relay, policy) in self.v4_relays() {
            let apps = relay.to_apps_first(None, &|a| policy.stop_payloads(a), true);
            policy.stopped(&apps);
            report.apps += apps.len();
        }
        // Guarded V4 controllers (on another relay the policy above does not reach).
        for g in self.v4_gates() {
            report.terminals += 1;
            g.halt();
        }
        for g in &gates {
            match g.halt(&reached) {
                Ok(true) => {
                    if !g.app().is_some_and(|a| reached.contains(&a)) {
                        report.apps += 1;
                    }
                    report.unconfirmed.extend(g.unconfirmed());
                }
                Ok(false) => {}
                Err(e) => report.failures.push((g.id(), e.to_string())),
            }
        }
        // Lock order: player lock -> gate lock (a player sends from inside its lock, and
        // `Player::stop` clears through the gate). Hooks take player locks, so they run
        // here, after every `halt` above has released its gate lock, and with the hook
        // table's lock released too. Calling them under a gate lock could deadlock
        // against a player mid-send (tests/player_safety.rs checks this).
        let hooks: Vec<stop::Hook> = self.hooks().values().cloned().collect();
        for h in &hooks {
            h.stop();
        }
        report.stopped_hooks = hooks.len();
        for (_, policy) in self.relays() {
            report
                .unconfirmed
                .extend(policy.unconfirmed().into_iter().map(|(_, app)| app));
        }
        report.unconfirmed.sort();
        report.unconfirmed.dedup();
        report.elapsed = start.elapsed();
        report
    }

    pub(crate) fn trip_watchdog(&self) {
        if self.lapsed.swap(true, Ordering::SeqCst) {
            return;
        }
        let report = self.halt_all();
        self.emit(SafetyEvent::WatchdogTripped(report));
    }
}
