//! The phone test and the pairing doctor in the window: the `http://…/check` URL and its QR
//! code for the chosen address, the last phone attempts (the relay's `Reached`,
//! `HttpRefused`, upgrades and binds, live as [`EVENT_PHONE_ATTEMPT`]), and the doctor's
//! report. The findings are the core's data (`kind` + params); the window words them.

use crate::error::{CommandError, CommandResult};
use crate::events::EVENT_PHONE_ATTEMPT;
use crate::notice::Kind;
use crate::state::AppState;
use dglab_core::pairing::doctor::{self, DoctorOptions, DoctorReport, UrlHint};
use dglab_core::pairing::{self, firewall, InterfaceAddr};
use dglab_core::protocol::describe::code_key;
use dglab_core::relay::{RelayEvent, RelayHandle};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tokio::sync::broadcast::error::RecvError;

/// Phone attempts kept for the doctor panel's first draw.
const KEEP: usize = 20;

/// What the phone-test panel shows.
#[derive(Debug, Clone, Serialize)]
pub struct PhoneCheck {
    /// `http://address:port/check` (or `https://…/check` for a typed `wss://` URL).
    pub url: String,
    /// Its QR code, a standalone SVG document.
    pub svg: String,
}

/// One thing a phone (or anyone) did on the relay's port, newest last.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// `reached` (the page), `http_refused`, `upgraded` (a WebSocket opened) or `bind`.
    pub kind: &'static str,
    /// `ip:port` it came from, when known.
    pub from: Option<String>,
    /// `user_agent` and `self_test` (the doctor's own visit); `status` and `path`; `code`
    /// and `reason` (a key, as in the inspector).
    pub params: Value,
}

/// The last [`KEEP`] attempts.
#[derive(Debug, Default)]
pub struct PhoneAttempts(Mutex<VecDeque<Attempt>>);

impl PhoneAttempts {
    fn push(&self, a: Attempt) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(a);
        while q.len() > KEEP {
            q.pop_front();
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The attempt an event is, if it is one. A bind names ids, not addresses: the App's
/// address comes from the snapshot.
fn attempt(ev: &RelayEvent, relay: &RelayHandle) -> Option<Attempt> {
    let (kind, from, params) = match ev {
        RelayEvent::Reached { from, user_agent } => {
            // The doctor's own self-test opens the page too: not a phone.
            let self_test = user_agent.as_deref() == Some(doctor::SELF_TEST_USER_AGENT);
            (
                "reached",
                Some(*from),
                json!({ "user_agent": user_agent, "self_test": self_test }),
            )
        }
        RelayEvent::HttpRefused { from, status, path } => (
            "http_refused",
            Some(*from),
            json!({ "status": status, "path": path }),
        ),
        RelayEvent::Connected {
            remote: Some(from), ..
        } => ("upgraded", Some(*from), json!({})),
        RelayEvent::BindAttempt {
            target_id, code, ..
        } => {
            let from = relay
                .snapshot()
                .into_iter()
                .find(|c| c.id.to_string() == *target_id)
                .and_then(|c| c.remote);
            let code = code.as_u16();
            (
                "bind",
                from,
                json!({ "code": code, "reason": code_key(code) }),
            )
        }
        _ => return None,
    };
    Some(Attempt {
        at_ms: now_ms(),
        kind,
        from: from.map(|a| a.to_string()),
        params,
    })
}

/// Keeps and forwards the phone attempts; the task ends with the relay.
pub fn start<R: Runtime>(app: &AppHandle<R>, relay: &RelayHandle) {
    app.manage(PhoneAttempts::default());
    app.manage(crate::commands::inspector::Inspector::default());
    let (app, relay, mut rx) = (app.clone(), relay.clone(), relay.subscribe());
    tauri::async_runtime::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    if let Some(a) = attempt(&ev, &relay) {
                        if let Some(kept) = app.try_state::<PhoneAttempts>() {
                            kept.push(a.clone());
                        }
                        if let Err(e) = app.emit(EVENT_PHONE_ATTEMPT, a) {
                            log::error!("emit {EVENT_PHONE_ATTEMPT}: {e}");
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    });
}

/// The typed `ws://`/`wss://` URL among the settings, if the QR code carries one.
fn typed_url(state: &AppState) -> Option<String> {
    state
        .settings()
        .preferred_address
        .clone()
        .filter(|c| c.contains("://"))
}

/// The phone-test URL for the address the QR code carries, and its QR code.
///
/// # Errors
/// `qr` if the QR code cannot be drawn.
#[tauri::command]
pub fn phone_check(state: State<'_, AppState>) -> CommandResult<PhoneCheck> {
    let port = state.port.actual;
    let url = match typed_url(&state) {
        Some(typed) => doctor::public_url_hints(&typed)
            .hints
            .into_iter()
            .find_map(|h| match h {
                UrlHint::CheckUrl { url } => Some(url),
                _ => None,
            }),
        None => None,
    };
    let url = url.unwrap_or_else(|| {
        let candidates = pairing::lan_candidates().unwrap_or_default();
        let saved = state.settings().preferred_address.clone();
        let chosen = candidates
            .iter()
            .find(|c| saved.as_deref() == Some(c.addr.to_string().as_str()))
            .or(candidates.first())
            .map_or(Ipv4Addr::LOCALHOST, |c| c.addr);
        pairing::phone_check_url(IpAddr::V4(chosen), port)
    });
    let svg = pairing::qr_svg(&url).map_err(|e| {
        log::error!("phone-check QR code: {e}");
        CommandError::new(Kind::Qr)
    })?;
    Ok(PhoneCheck { url, svg })
}

/// The last phone attempts, oldest first; later ones arrive as [`EVENT_PHONE_ATTEMPT`].
#[tauri::command]
pub fn phone_attempts(attempts: State<'_, PhoneAttempts>) -> Vec<Attempt> {
    attempts
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

/// Runs the pairing doctor on this machine against our relay's port (and the typed public
/// URL, if any): `addresses` limits it to those IPv4 addresses (the tests use 127.0.0.1).
///
/// # Errors
/// `busy` if the blocking task that runs it died (logged).
#[tauri::command]
pub async fn run_doctor<R: Runtime>(
    app: AppHandle<R>,
    addresses: Option<Vec<String>>,
) -> CommandResult<DoctorReport> {
    let (port, public_url) = {
        let state = app.state::<AppState>();
        (state.port.actual, typed_url(&state))
    };
    tauri::async_runtime::spawn_blocking(move || {
        let mut interfaces = pairing::interface_addresses().unwrap_or_default();
        if let Some(only) = addresses {
            let only: Vec<Ipv4Addr> = only.iter().filter_map(|a| a.parse().ok()).collect();
            interfaces = only
                .iter()
                .map(|ip| {
                    interfaces
                        .iter()
                        .find(|i| i.addr == *ip)
                        .cloned()
                        .unwrap_or(InterfaceAddr {
                            interface: "named".into(),
                            addr: *ip,
                            default_route: false,
                        })
                })
                .collect();
        }
        let options = DoctorOptions {
            public_url,
            ..DoctorOptions::new(port)
        };
        doctor::diagnose(&interfaces, &options, firewall::check(port))
    })
    .await
    .map_err(|e| {
        log::error!("doctor: blocking task failed: {e}");
        CommandError::new(Kind::Busy)
    })
}
