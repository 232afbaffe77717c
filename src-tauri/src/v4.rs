//! The desktop's V4 side, for the DG-LAB App 4.x (issue 13 point 4): the core's V4 relay on
//! its own port (9998, the official relay's, or the next free one), this window's
//! in-process V4 controller (its id is the `tid` in the 4.x QR code), and what the binding
//! table shows of it: every V4 controller, its Apps, and the device slots our Apps report.
//!
//! Rule 1 covers it: the core's V4 policy (`SafetyHub::guard_v4`) binds every App on this
//! relay, whoever drives it — the user's caps per slot channel, the rise rate, STOP (which
//! reaches every 4.x App first), a new slot at 0, an App reporting above its cap sent back
//! down. Our own controller is the core's guarded V4 controller
//! (`SafetyHub::guard_v4_controller`): the window drives each reported slot channel through
//! it ([`V4Side::set_strength`]), within the same caps, rise rate and STOP.

pub mod devices;

use crate::state::{bind_with_fallback, PortInfo};
use devices::DeviceView;
use dglab_core::relay::v4::{self, V4Config, V4ControllerInfo, V4Event, V4Handle, V4Id, V4Role};
use dglab_core::safety::GuardedV4Controller;
use dglab_core::terminal::v4::{
    V4Controller, V4ControllerError, V4ControllerEvent, V4ControllerEvents,
};
use dglab_core::{RelayConfig, SafetyHub};
use serde::Serialize;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;

/// The official relay's port, the V4 relay's default.
pub const DEFAULT_PORT: u16 = 9998;

/// Payload: `Vec<`[`V4ControllerView`]`>`, the V4 relay's whole table, after every change
/// of who is connected or of what our Apps' devices report.
pub const EVENT_V4_APPS: &str = "v4:apps";

/// The V4 relay, our controller on it, and the devices its Apps reported.
pub struct V4Side {
    /// The relay the 4.x App connects to.
    pub relay: V4Handle,
    /// Where it listens: requested and actual port, as for the SOCKET v2 relay.
    pub port: PortInfo,
    /// Our controller, behind the gate; dropping it would end every 4.x pairing.
    controller: GuardedV4Controller,
    /// Its events until the forwarder takes them.
    events: Mutex<Option<V4ControllerEvents>>,
    /// Our Apps that have reported their devices (before that the table says "waiting").
    reported: Arc<Mutex<HashSet<V4Id>>>,
}

impl std::fmt::Debug for V4Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4Side")
            .field("relay", &self.relay.local_addr())
            .field("controller", &self.controller.id())
            .finish_non_exhaustive()
    }
}

impl V4Side {
    /// Binds `preferred` on `ip` (or the next free port), starts the relay with the SOCKET v2
    /// relay's connection limits, puts it under `safety` (caps, rise rate, STOP) before
    /// anyone can connect, and joins our controller. Inside the Tokio runtime.
    ///
    /// # Errors
    /// Not even an OS-chosen port could be bound.
    pub async fn start(
        ip: IpAddr,
        preferred: u16,
        limits: &RelayConfig,
        safety: &SafetyHub,
    ) -> std::io::Result<Self> {
        // No remembered fallback: the QR code changes at every start anyway (a controller's
        // id is new each time, spec §4.4), so a stable port buys nothing.
        let bound = bind_with_fallback(ip, preferred, None).await?;
        let actual = bound.listener.local_addr()?.port();
        if let Some(why) = bound.reason {
            log::warn!("V4 port {preferred} unusable ({why:?}); the V4 relay listens on {actual}");
        }
        let config = V4Config {
            limits: RelayConfig {
                max_message_size: v4::MAX_FRAME,
                raise_fd_limit: false,
                ..limits.clone()
            },
            ..V4Config::default()
        };
        let relay = v4::start(bound.listener, config)?;
        // Rule 1 before anyone can connect.
        safety.guard_v4(&relay);
        let (raw, raw_events) = V4Controller::local(&relay);
        let (controller, events) = safety.guard_v4_controller(raw, raw_events);
        log::info!(
            "V4 relay (DG-LAB App 4.x) listening on {}, controller {}",
            relay.local_addr(),
            controller.id()
        );
        Ok(V4Side {
            relay,
            port: PortInfo {
                requested: preferred,
                actual,
                reason: bound.reason,
            },
            controller,
            events: Mutex::new(Some(events)),
            reported: Arc::default(),
        })
    }

    /// Our controller's id: the `tid` in the 4.x QR code.
    pub fn controller_id(&self) -> V4Id {
        self.controller.id()
    }

    /// The table now: every controller (ours first), its Apps and their devices.
    pub fn view(&self) -> Vec<V4ControllerView> {
        view(&self.relay, &self.controller, &lock(&self.reported))
    }

    /// Sets channel `c` (0 = A, 1 = B) of `slot` on our App `app` to `value` through the
    /// gate: within the cap, a raise as a ramp, refused while stopped. Returns the level it
    /// will reach.
    ///
    /// # Errors
    /// The guarded controller's: no such App or slot, refused (stopped), off the relay.
    pub fn set_strength(
        &self,
        app: V4Id,
        slot: &str,
        c: u8,
        value: u8,
    ) -> Result<i64, V4ControllerError> {
        self.controller.set_strength(app, slot, c, i64::from(value))
    }

    /// Forwards the relay's events and our Apps' device reports to the window as
    /// [`EVENT_V4_APPS`]. Once; later calls do nothing.
    pub fn spawn_forwarders<R: Runtime>(&self, app: &AppHandle<R>) {
        let Some(mut events) = lock(&self.events).take() else {
            return;
        };
        // Both tasks below emit the table: each computes and emits under this lock, so the
        // last snapshot the window gets is never one computed before a change it missed
        // (an App that left stayed "connected" in the status line).
        let emitting = Arc::new(Mutex::new(()));
        let ours = self.controller.clone();
        let (a, relay, reported) = (app.clone(), self.relay.clone(), self.reported.clone());
        let gate = emitting.clone();
        let mut rx = self.relay.subscribe();
        tauri::async_runtime::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(V4Event::Relayed { .. } | V4Event::Error { .. }) => continue,
                    Ok(V4Event::ErrorsNotShown { .. }) => continue,
                    Ok(V4Event::Detached { app, .. }) => {
                        lock(&reported).remove(&app);
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => log::debug!("V4 events lagged by {n}"),
                    Err(RecvError::Closed) => break,
                }
                let _one = lock(&gate);
                emit(&a, view(&relay, &ours, &lock(&reported)));
            }
        });
        let ours = self.controller.clone();
        let (a, relay, reported) = (app.clone(), self.relay.clone(), self.reported.clone());
        tauri::async_runtime::spawn(async move {
            while let Some(ev) = events.recv().await {
                match ev {
                    V4ControllerEvent::Devices { app, .. } => {
                        lock(&reported).insert(app);
                    }
                    V4ControllerEvent::Slots { .. } => {}
                    V4ControllerEvent::Closed => break,
                    _ => continue,
                }
                let _one = lock(&emitting);
                emit(&a, view(&relay, &ours, &lock(&reported)));
            }
            log::warn!(
                "V4 controller {} is off the relay; 4.x pairing needs a restart",
                ours.id()
            );
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn emit<R: Runtime>(app: &AppHandle<R>, rows: Vec<V4ControllerView>) {
    if let Err(e) = app.emit(EVENT_V4_APPS, rows) {
        log::error!("emit {EVENT_V4_APPS}: {e}");
    }
}

/// One V4 controller and its Apps, as the binding table shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V4ControllerView {
    /// Its id (8 hex characters).
    pub id: V4Id,
    /// Whether it is this window's controller (the one the 4.x QR code names).
    pub ours: bool,
    /// `ip:port`, or `None` in-process.
    pub remote: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub connected_since_ms: u64,
    /// Last WebSocket ping round trip.
    pub rtt_ms: Option<f64>,
    /// Its Apps, in the order they attached.
    pub apps: Vec<V4AppView>,
}

/// One 4.x App.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V4AppView {
    /// Its id.
    pub id: V4Id,
    /// `ip:port`.
    pub remote: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub connected_since_ms: u64,
    /// Last WebSocket ping round trip.
    pub rtt_ms: Option<f64>,
    /// Its device slots as it reported them; `None` until it did, and for another
    /// controller's App (only its controller hears its reports).
    pub devices: Option<Vec<DeviceView>>,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The table from the relay's snapshot and the device book; ours first, then the others
/// oldest first.
fn view(
    relay: &V4Handle,
    controller: &GuardedV4Controller,
    reported: &HashSet<V4Id>,
) -> Vec<V4ControllerView> {
    let ours = controller.id();
    let mut rows: Vec<V4ControllerView> = relay
        .snapshot()
        .iter()
        .map(|c: &V4ControllerInfo| V4ControllerView {
            id: c.id,
            ours: c.id == ours && c.role == V4Role::LocalController,
            remote: c.remote.map(|a| a.to_string()),
            connected_since_ms: millis(c.connected_since),
            rtt_ms: c.last_rtt.map(|d| d.as_secs_f64() * 1000.0),
            apps: c
                .apps
                .iter()
                .map(|a| V4AppView {
                    id: a.id,
                    remote: a.remote.map(|r| r.to_string()),
                    connected_since_ms: millis(a.connected_since),
                    rtt_ms: a.last_rtt.map(|d| d.as_secs_f64() * 1000.0),
                    devices: (c.id == ours && reported.contains(&a.id)).then(|| {
                        controller
                            .devices(a.id)
                            .iter()
                            .map(|d| DeviceView::of(&d.info))
                            .collect()
                    }),
                })
                .collect(),
        })
        .collect();
    rows.sort_by_key(|c| !c.ours); // stable: the others keep the relay's order
    rows
}
