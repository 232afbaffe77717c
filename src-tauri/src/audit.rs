//! What the window shows of the safety audit trail: the recent gate decisions (worded by
//! kind, with their time) and where the last stop stands, App by App.
//!
//! Both are views of the core's own facts, kept here so a window that opens (or reloads)
//! late still sees them: the recent list is the last [`RECENT`] `SafetyEvent`s as notices,
//! and the stop view is recomputed from the hub ([`SafetyHub::unconfirmed_stops`]) and the
//! relay's snapshot, never guessed. The full trail is the log file (`lib.rs` sizes its
//! rotation).

use crate::notice::Notice;
use dglab_core::relay::Role;
use dglab_core::safety::{SafetyEvent, StopReport};
use dglab_core::{RelayHandle, SafetyHub};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// Safety events the window can list (the log file keeps them all).
pub const RECENT: usize = 50;

/// One audited decision, as the window lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Logged {
    /// Milliseconds since the Unix epoch, when the shell saw it.
    pub at_ms: u64,
    /// What happened, `{kind, params}`, worded by the window.
    pub notice: Notice,
}

/// What started the stop the view describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// The STOP button, Escape, a global key, a signal or a panic.
    Stop,
    /// The window stopped renewing the watchdog's lease.
    Watchdog,
}

/// Where one App stands after the stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppStop {
    /// Sent 0/0/clear/clear; its 0/0 report has not come yet, and the gate re-sends the
    /// stop every second until it does.
    Waiting,
    /// It reported 0 on both channels.
    Confirmed,
    /// It left the relay before confirming (nothing more can be sent to it).
    Left,
}

/// One App the stop was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StopApp {
    /// The App's relay id.
    pub app: Uuid,
    /// Its state now.
    pub state: AppStop,
}

/// The last stop, while it holds (cleared by re-arm or a renewed lease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopView {
    /// Button or watchdog.
    pub cause: StopCause,
    /// Every App the stop reached that the shell can name, with its state. Empty with
    /// `confirmed_unnamed` 0: no phone was paired (the latch holds all the same).
    pub apps: Vec<StopApp>,
    /// Apps the core counted as stopped and already at 0 that no id is known for here
    /// (another guarded terminal's App): stopped and confirmed, not named.
    pub confirmed_unnamed: usize,
    /// Terminals whose App could not be reached at that moment (it was leaving).
    pub failures: usize,
}

/// The recent list and the stop view, shared by the event forwarders and the commands.
#[derive(Debug, Default)]
pub struct Audit {
    recent: Mutex<VecDeque<Logged>>,
    stop: Mutex<Option<StopView>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Audit {
    /// Adds a notice to the recent list (dropping the oldest beyond [`RECENT`]).
    pub fn push(&self, notice: Notice) -> Logged {
        let logged = Logged {
            at_ms: now_ms(),
            notice,
        };
        let mut r = lock(&self.recent);
        if r.len() == RECENT {
            r.pop_front();
        }
        r.push_back(logged.clone());
        logged
    }

    /// The recent list, oldest first.
    pub fn recent(&self) -> Vec<Logged> {
        lock(&self.recent).iter().cloned().collect()
    }

    /// The stop view now.
    pub fn stop(&self) -> Option<StopView> {
        lock(&self.stop).clone()
    }

    /// Follows one safety event; returns the stop view when it changed.
    pub fn on_safety(
        &self,
        ev: &SafetyEvent,
        ours: Option<Uuid>,
        safety: &SafetyHub,
        relay: &RelayHandle,
    ) -> Option<Option<StopView>> {
        let mut stop = lock(&self.stop);
        let before = stop.clone();
        match ev {
            SafetyEvent::EmergencyStop(r) => *stop = Some(start(StopCause::Stop, r, ours)),
            SafetyEvent::WatchdogTripped(r) if !safety.is_latched() => {
                *stop = Some(start(StopCause::Watchdog, r, ours));
            }
            SafetyEvent::Rearmed | SafetyEvent::LeaseRenewed
                if !safety.is_latched() && !safety.lease_lapsed() =>
            {
                *stop = None;
            }
            _ => {}
        }
        if let Some(view) = stop.as_mut() {
            refresh(view, safety, relay);
        }
        (*stop != before).then(|| stop.clone())
    }

    /// Re-reads where each App stands (after it left, or after missed events); returns the
    /// stop view when it changed.
    pub fn refresh(&self, safety: &SafetyHub, relay: &RelayHandle) -> Option<Option<StopView>> {
        let mut stop = lock(&self.stop);
        if stop.is_some() && !safety.is_latched() && !safety.lease_lapsed() {
            // A re-arm whose event was missed.
            *stop = None;
            return Some(None);
        }
        let view = stop.as_mut()?;
        let before = view.clone();
        refresh(view, safety, relay);
        (*view != before).then(|| Some(view.clone()))
    }
}

/// The view of a fresh stop: every App the report names as unconfirmed waits; our own App,
/// if the stop reached it and it is not among them, was already at 0.
fn start(cause: StopCause, r: &StopReport, ours: Option<Uuid>) -> StopView {
    let mut apps: Vec<StopApp> = r
        .unconfirmed
        .iter()
        .map(|&app| StopApp {
            app,
            state: AppStop::Waiting,
        })
        .collect();
    if let Some(app) = ours {
        if r.apps > apps.len() && !r.unconfirmed.contains(&app) {
            apps.insert(
                0,
                StopApp {
                    app,
                    state: AppStop::Confirmed,
                },
            );
        }
    }
    StopView {
        cause,
        confirmed_unnamed: r.apps.saturating_sub(apps.len()),
        apps,
        failures: r.failures.len(),
    }
}

/// A waiting App the hub no longer re-sends to has either confirmed (still connected) or
/// left; the hub's list is the truth, so a missed event cannot leave one waiting forever.
fn refresh(view: &mut StopView, safety: &SafetyHub, relay: &RelayHandle) {
    let pending: Vec<Uuid> = safety
        .unconfirmed_stops()
        .into_iter()
        .map(|(_, app)| app)
        .collect();
    let connected: Vec<Uuid> = relay
        .snapshot()
        .iter()
        .filter(|c| c.role == Role::App)
        .map(|c| c.id)
        .collect();
    for a in &mut view.apps {
        if !connected.contains(&a.app) {
            if a.state == AppStop::Waiting {
                a.state = AppStop::Left;
            }
        } else if a.state == AppStop::Waiting && !pending.contains(&a.app) {
            a.state = AppStop::Confirmed;
        }
    }
}
