//! Core events, forwarded to the window with `app.emit`. The event names live here and are
//! mirrored once in `ui/js/backend.js`.
//!
//! The binding table is fed the relay's whole snapshot after each event that changes who is
//! connected or paired: a handful of rows, and the UI never has to patch its table from
//! partial events (nor fall out of step when a broadcast lags).

use crate::audit::StopView;
use crate::error::CommandError;
use crate::notice::{self, Notice};
use crate::state::AppState;
use dglab_core::player::{PlayState, Player, Progress};
use dglab_core::protocol::command::{Channel, StrengthReport};
use dglab_core::relay::{ConnectionInfo, RelayEvent, Role};
use dglab_core::safety::{ChannelState, GuardedEvents};
use dglab_core::{GuardedTerminal, RelayHandle, SafetyHub, TerminalEvent};
use serde::Serialize;
use std::time::UNIX_EPOCH;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// Payload: `Vec<ConnectionView>`, every connection, oldest first.
pub const EVENT_CONNECTIONS: &str = "relay:connections";
/// Payload: the core's `TerminalEvent` as is (paired, strength report, feedback with its
/// channel and position, App left, …).
pub const EVENT_TERMINAL: &str = "terminal:event";
/// Payload: a [`Notice`], `{kind, params}`, made from the core's `SafetyEvent` by
/// [`notice::safety`] (clamped, ramping, refused, emergency stop, re-armed, watchdog, …):
/// what the gate did to a request, for the UI to word.
pub const EVENT_SAFETY: &str = "safety:event";
/// Payload: [`GateView`], after every gate decision or App report.
pub const EVENT_SAFETY_STATE: &str = "safety:state";
/// Payload: [`ProgressView`], whenever a player's progress changes (≤ 10/s per channel).
pub const EVENT_PLAYER: &str = "player:progress";
/// Payload: `Option<`[`StopView`]`>`, whenever the last stop's state changes: a stop, an
/// App confirming 0 or leaving, re-arm (`null`).
pub const EVENT_STOP: &str = "safety:stop";

/// Payload: [`crate::commands::doctor::Attempt`], each phone attempt on the relay's port
/// (the phone page reached, a refused HTTP request, an upgrade, a bind).
pub const EVENT_PHONE_ATTEMPT: &str = "phone:attempt";
/// Payload: [`crate::commands::inspector::InspectorBatch`], while the inspector runs.
pub const EVENT_INSPECTOR: &str = "inspector:records";

/// Every event the window may listen to (the contract test holds `ui/js/backend.js`
/// against it).
pub const EVENT_NAMES: [&str; 11] = [
    EVENT_CONNECTIONS,
    EVENT_TERMINAL,
    EVENT_SAFETY,
    EVENT_SAFETY_STATE,
    EVENT_PLAYER,
    EVENT_STOP,
    EVENT_PHONE_ATTEMPT,
    EVENT_INSPECTOR,
    crate::commands::virtual_app::EVENT_VIRTUAL_APP,
    // The game API's panel (issue 15 point 5).
    crate::commands::games::EVENT_GAMES,
    // The 4.x Apps and their device slots (issue 13 point 4).
    crate::v4::EVENT_V4_APPS,
];

/// One row of the binding table, with plain numbers instead of `SystemTime`/`Duration`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionView {
    /// The relay's id for the connection.
    pub id: Uuid,
    /// `app`, `terminal`, `local` or `unknown` (connected, never bound).
    pub role: Role,
    /// `ip:port`, or `None` for an in-process terminal.
    pub remote: Option<String>,
    /// Milliseconds since the Unix epoch; the UI counts "connected for" from it.
    pub connected_since_ms: u64,
    /// Last WebSocket ping round trip.
    pub rtt_ms: Option<f64>,
    /// Partner's id.
    pub paired_with: Option<Uuid>,
    /// Whether this is this window's own terminal (the one the QR code names).
    pub ours: bool,
}

impl ConnectionView {
    /// The view of one snapshot row; `ours` is the id of this app's terminal.
    pub fn new(info: &ConnectionInfo, ours: Uuid) -> Self {
        ConnectionView {
            id: info.id,
            role: info.role,
            remote: info.remote.map(|a| a.to_string()),
            connected_since_ms: info
                .connected_since
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            rtt_ms: info.last_rtt.map(|d| d.as_secs_f64() * 1000.0),
            paired_with: info.paired_with,
            ours: info.id == ours,
        }
    }
}

/// Every connection now, as the table shows it.
pub fn connections(relay: &RelayHandle, ours: Uuid) -> Vec<ConnectionView> {
    relay
        .snapshot()
        .iter()
        .map(|c| ConnectionView::new(c, ours))
        .collect()
}

/// The safety gate's whole state, as the strength panel draws it: each channel's target
/// and level, the App's last report, the caps and the blocks (latch, lapsed lease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateView {
    /// The paired App.
    pub app: Option<Uuid>,
    /// The emergency stop is latched.
    pub latched: bool,
    /// The watchdog tripped (the window stopped renewing its lease).
    pub lease_lapsed: bool,
    /// The user caps, A then B.
    pub caps: [u8; 2],
    /// The App's last report since it paired.
    pub report: Option<StrengthReport>,
    /// Target, level sent, ceiling and ramping, A then B.
    pub channels: [ChannelState; 2],
}

/// The gate's state now.
pub fn gate_view(guarded: &GuardedTerminal, safety: &SafetyHub) -> GateView {
    let g = guarded.state();
    GateView {
        app: g.app,
        latched: g.latched,
        lease_lapsed: g.lease_lapsed,
        caps: [safety.cap(Channel::A), safety.cap(Channel::B)],
        report: guarded.last_report(),
        channels: g.channels,
    }
}

/// A player's progress for the UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgressView {
    /// "A" or "B".
    pub channel: &'static str,
    /// `idle`, `waiting`, `playing`, `finished`, `stopped` or `failed`.
    pub state: &'static str,
    /// Why it failed, as a command error would say it (`stopped`, `watchdog`, …).
    pub error: Option<Notice>,
    /// Frames in one pass.
    pub pass_frames: usize,
    /// The frame the App plays now (an estimate).
    pub position: usize,
    /// Completed passes.
    pub loops: u64,
}

impl ProgressView {
    /// The view of one snapshot.
    pub fn new(channel: Channel, p: &Progress) -> Self {
        let (state, error) = match &p.state {
            PlayState::Idle => ("idle", None),
            PlayState::Waiting => ("waiting", None),
            PlayState::Playing => ("playing", None),
            PlayState::Finished => ("finished", None),
            PlayState::Stopped => ("stopped", None),
            PlayState::Failed(e) => ("failed", Some(CommandError::from(e.clone()).0)),
        };
        ProgressView {
            channel: channel.letter(),
            state,
            error,
            pass_frames: p.pass_frames,
            position: p.position,
            loops: p.loops,
        }
    }
}

fn emit<R: Runtime, S: Serialize + Clone>(app: &AppHandle<R>, name: &str, payload: S) {
    if let Err(e) = app.emit(name, payload) {
        log::error!("emit {name}: {e}");
    }
}

/// Spawns the forwarding tasks (relay, terminal, safety, players); they end with the app.
pub fn spawn_forwarders<R: Runtime>(
    app: &AppHandle<R>,
    state: &AppState,
    mut guarded_events: GuardedEvents,
) {
    let ours = state.guarded.id();
    let (relay, mut rx) = (state.relay.clone(), state.relay.subscribe());
    let (a, audit, safety) = (app.clone(), state.audit.clone(), state.safety.clone());
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                // Messages between pairs and gate decisions do not change the table;
                // everything else may. (Gate decisions reach the window as EVENT_SAFETY.)
                Ok(RelayEvent::Relayed { .. }) => continue,
                // Plain HTTP on the port changes no connection (commands/doctor.rs forwards it).
                Ok(RelayEvent::Reached { .. } | RelayEvent::HttpRefused { .. }) => continue,
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => log::debug!("connection events lagged by {n}"),
                Err(RecvError::Closed) => break,
            }
            emit(&a, EVENT_CONNECTIONS, connections(&relay, ours));
            // An App that left stops waiting for its confirmation.
            if let Some(view) = audit.refresh(&safety, &relay) {
                emit(&a, EVENT_STOP, view);
            }
        }
    });

    let (guarded, safety, a) = (state.guarded.clone(), state.safety.clone(), app.clone());
    tauri::async_runtime::spawn(async move {
        while let Some(ev) = guarded_events.recv().await {
            match &ev {
                TerminalEvent::Paired { app } => log::info!("App {app} paired"),
                TerminalEvent::AppLeft { app } => log::info!("App {app} left"),
                _ => {}
            }
            let strength_changed = matches!(
                ev,
                TerminalEvent::Strength(_)
                    | TerminalEvent::Paired { .. }
                    | TerminalEvent::AppLeft { .. }
            );
            emit(&a, EVENT_TERMINAL, ev);
            if strength_changed {
                emit(&a, EVENT_SAFETY_STATE, gate_view(&guarded, &safety));
            }
        }
    });

    let (guarded, safety, a) = (state.guarded.clone(), state.safety.clone(), app.clone());
    let (audit, relay) = (state.audit.clone(), state.relay.clone());
    let mut rx = state.safety.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let stop: Option<Option<StopView>> = match rx.recv().await {
                Ok(ev) => {
                    emit(&a, EVENT_SAFETY, audit.push(notice::safety(&ev)).notice);
                    audit.on_safety(&ev, guarded.app(), &safety, &relay)
                }
                Err(RecvError::Lagged(n)) => {
                    log::warn!("safety events lagged by {n}; the log file has them all");
                    audit.refresh(&safety, &relay)
                }
                Err(RecvError::Closed) => break,
            };
            if let Some(view) = stop {
                emit(&a, EVENT_STOP, view);
            }
            emit(&a, EVENT_SAFETY_STATE, gate_view(&guarded, &safety));
        }
    });

    for player in &state.players {
        spawn_progress(app.clone(), player);
    }
}

fn spawn_progress<R: Runtime>(app: AppHandle<R>, player: &Player) {
    let channel = player.channel();
    let mut rx = player.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut last: Option<ProgressView> = None;
        while rx.changed().await.is_ok() {
            let view = ProgressView::new(channel, &rx.borrow_and_update());
            // Snapshots come every 100 ms while playing; skip the ones the UI would not see change.
            if last.as_ref() != Some(&view) {
                emit(&app, EVENT_PLAYER, view.clone());
                last = Some(view);
            }
        }
    });
}
