//! "Try without a phone": the core's simulated App paired with our own terminal through our
//! own relay's socket, exactly as a phone would pair by scanning the QR code. The window
//! draws what the box would do from [`EVENT_VIRTUAL_APP`]; nothing here knows the protocol.

use crate::error::{CommandError, CommandResult};
use crate::notice::Kind;
use crate::state::AppState;
use dglab_core::protocol::command::Channel;
use dglab_core::virtual_app::{
    DisconnectReason, Played, VirtualApp, VirtualAppConfig, VirtualAppError, VirtualAppEvent,
    VirtualAppState,
};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

/// Payload: [`VirtualAppUpdate`], at most ~10 a second while the virtual App runs (its ticks
/// batched), and once when it starts or ends.
pub const EVENT_VIRTUAL_APP: &str = "virtual_app:update";

/// How often the ticks are sent to the window: 10/s keeps the drawing smooth without
/// 20 IPC messages a second.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Ticks in one update at most (a window that stalls gets the newest ones).
const MAX_TICKS: usize = 200;

/// The virtual App while it runs; managed on first use.
#[derive(Default)]
pub struct VirtualAppSlot(Mutex<Option<Arc<VirtualApp>>>);

impl VirtualAppSlot {
    fn get(&self) -> Option<Arc<VirtualApp>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn slot<R: Runtime>(app: &AppHandle<R>) -> tauri::State<'_, VirtualAppSlot> {
    if app.try_state::<VirtualAppSlot>().is_none() {
        // A second `manage` of the same type is refused harmlessly, so a race is fine.
        app.manage(VirtualAppSlot::default());
    }
    app.state::<VirtualAppSlot>()
}

/// One 100 ms tick of one channel, as numbers the canvas draws: the four 25 ms quarters'
/// frequency bytes and intensities, or `null` for silence (empty queue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TickView {
    /// The App's clock in ms since it connected.
    pub at_ms: u64,
    /// "A" or "B".
    pub channel: Channel,
    /// The channel's strength during the tick.
    pub strength: u8,
    /// Frequency bytes (10..=240) of the four quarters.
    pub freq: Option<[u8; 4]>,
    /// Intensities (0..=100) of the four quarters.
    pub intensity: Option<[u8; 4]>,
    /// The frame as the App received it (16 hex digits), for tests and a tooltip.
    pub hex: Option<String>,
}

impl From<&Played> for TickView {
    fn from(p: &Played) -> Self {
        TickView {
            at_ms: p.at_ms,
            channel: p.channel,
            strength: p.strength,
            freq: p.frame.map(|f| f.freq()),
            intensity: p.frame.map(|f| f.intensity()),
            hex: p.frame.map(|f| f.to_hex()),
        }
    }
}

/// What the panel shows: whether it runs, its state, and the ticks since the last update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualAppUpdate {
    /// The virtual App is connected.
    pub running: bool,
    /// Strengths, soft limits, queues, counters (`None` when not running).
    pub state: Option<VirtualAppState>,
    /// Ticks, oldest first: new ones in an event; the last minute in a command's answer.
    pub ticks: Vec<TickView>,
    /// Why it ended, in the update that says so.
    pub ended: Option<DisconnectReason>,
}

impl VirtualAppUpdate {
    fn of(app: Option<&VirtualApp>, ticks: Vec<TickView>) -> Self {
        VirtualAppUpdate {
            running: app.is_some_and(|a| a.state().connected),
            state: app.map(VirtualApp::state),
            ticks,
            ended: None,
        }
    }
}

fn failed(e: &VirtualAppError) -> CommandError {
    log::warn!("virtual App: {e}");
    match e {
        // Our terminal already has an App (a phone, most likely).
        VirtualAppError::BindRefused(400) => CommandError::new(Kind::VirtualAppBusy),
        VirtualAppError::Closed => CommandError::new(Kind::VirtualAppOff),
        VirtualAppError::Busy => CommandError::new(Kind::Busy),
        VirtualAppError::SoftLimitOutOfRange(v) => CommandError::new(Kind::OutOfRange)
            .with("value", v)
            .with("max", 200),
        VirtualAppError::NoSuchButton(v) => CommandError::new(Kind::OutOfRange)
            .with("value", v)
            .with("max", 9),
        other => CommandError::new(Kind::VirtualAppFailed).with("code", other.code()),
    }
}

/// Where our own relay is reached from this machine: its listening address, with loopback
/// for "every interface".
fn loopback_base(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    dglab_core::pairing::ws_base(ip, addr.port())
}

/// Starts the virtual App with these soft limits and pairs it with our terminal through
/// the QR code's URL (on loopback, so a typed public address does not matter). Running
/// already: answers its state.
///
/// # Errors
/// `virtual_app_busy` when a phone is paired; `virtual_app_failed {code}` otherwise.
#[tauri::command]
pub async fn start_virtual_app<R: Runtime>(
    app: AppHandle<R>,
    soft_a: u8,
    soft_b: u8,
) -> CommandResult<VirtualAppUpdate> {
    if let Some(running) = slot(&app).get() {
        if running.state().connected {
            return Ok(VirtualAppUpdate::of(Some(&running), ticks(&running)));
        }
    }
    let state = app
        .try_state::<AppState>()
        .ok_or_else(|| CommandError::new(Kind::VirtualAppFailed))?;
    let qr = state
        .guarded
        .pairing_url(&loopback_base(state.relay.local_addr()));
    let config = VirtualAppConfig {
        soft_limit_a: soft_a,
        soft_limit_b: soft_b,
        ..VirtualAppConfig::default()
    };
    let virtual_app = Arc::new(
        VirtualApp::connect(&qr, config)
            .await
            .map_err(|e| failed(&e))?,
    );
    log::info!("virtual App {} paired", virtual_app.state().app_id);
    let previous = slot(&app)
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .replace(virtual_app.clone());
    if let Some(old) = previous {
        old.close();
    }
    forward(app.clone(), virtual_app.clone());
    Ok(VirtualAppUpdate::of(Some(&virtual_app), Vec::new()))
}

/// Disconnects the virtual App (our terminal sees it leave). Not running: nothing to do.
#[tauri::command]
pub fn stop_virtual_app<R: Runtime>(app: AppHandle<R>) -> VirtualAppUpdate {
    let taken = slot(&app)
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(v) = taken {
        v.close();
    }
    VirtualAppUpdate::of(None, Vec::new())
}

fn ticks(app: &VirtualApp) -> Vec<TickView> {
    app.recent().iter().map(TickView::from).collect()
}

/// The panel's first draw: state and the last minute of ticks.
#[tauri::command]
pub fn virtual_app_state<R: Runtime>(app: AppHandle<R>) -> VirtualAppUpdate {
    let running = slot(&app).get();
    let t = running.as_deref().map(ticks).unwrap_or_default();
    VirtualAppUpdate::of(running.as_deref(), t)
}

fn running<R: Runtime>(app: &AppHandle<R>) -> CommandResult<Arc<VirtualApp>> {
    slot(app)
        .get()
        .ok_or_else(|| CommandError::new(Kind::VirtualAppOff))
}

/// The soft limits the user picks on the simulated phone (0..=200 each).
///
/// # Errors
/// `virtual_app_off`, `out_of_range`.
#[tauri::command]
pub fn set_virtual_soft_limits<R: Runtime>(
    app: AppHandle<R>,
    soft_a: u8,
    soft_b: u8,
) -> CommandResult<VirtualAppUpdate> {
    let v = running(&app)?;
    v.set_soft_limits(soft_a, soft_b).map_err(|e| failed(&e))?;
    Ok(VirtualAppUpdate::of(Some(&v), Vec::new()))
}

/// Presses one of the simulated phone's feedback buttons (0..=4 A, 5..=9 B).
///
/// # Errors
/// `virtual_app_off`, `out_of_range`.
#[tauri::command]
pub fn press_virtual_feedback<R: Runtime>(app: AppHandle<R>, button: u8) -> CommandResult<()> {
    running(&app)?
        .press_feedback(button)
        .map_err(|e| failed(&e))
}

/// Forwards the virtual App's ticks and state to the window, batched every
/// [`FLUSH_EVERY`], until it disconnects; then frees the slot if it still holds it.
fn forward<R: Runtime>(app: AppHandle<R>, virtual_app: Arc<VirtualApp>) {
    let mut rx = virtual_app.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let mut batch: Vec<TickView> = Vec::new();
        let mut dirty = true;
        let ended = loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(VirtualAppEvent::Played(p)) => {
                        if batch.len() == MAX_TICKS {
                            batch.remove(0);
                        }
                        batch.push(TickView::from(&p));
                    }
                    Ok(VirtualAppEvent::Disconnected { reason, .. }) => break Some(reason),
                    Ok(_) => dirty = true,
                    Err(RecvError::Lagged(n)) => log::debug!("virtual App events lagged by {n}"),
                    Err(RecvError::Closed) => break None,
                },
                _ = flush.tick() => {
                    if dirty || !batch.is_empty() {
                        let update = VirtualAppUpdate::of(Some(&virtual_app), std::mem::take(&mut batch));
                        emit(&app, update);
                        dirty = false;
                    }
                }
            }
        };
        if let Some(reason) = ended {
            log::info!("virtual App ended: {reason:?}");
        }
        let slot = slot(&app);
        let mut held = slot.0.lock().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_some_and(|h| Arc::ptr_eq(h, &virtual_app)) {
            *held = None;
        }
        drop(held);
        emit(
            &app,
            VirtualAppUpdate {
                running: false,
                state: Some(virtual_app.state()),
                ticks: batch,
                ended,
            },
        );
    });
}

fn emit<R: Runtime>(app: &AppHandle<R>, update: VirtualAppUpdate) {
    if let Err(e) = app.emit(EVENT_VIRTUAL_APP, update) {
        log::error!("emit {EVENT_VIRTUAL_APP}: {e}");
    }
}
