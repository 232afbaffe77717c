//! The relay: who is connected, and what the phone scans.

use crate::error::{CommandError, CommandResult};
use crate::events::{self, ConnectionView};
use crate::pairing_shim as pairing;
use crate::state::{AppState, PortInfo};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use tauri::State;

/// What the QR panel shows.
#[derive(Debug, Clone, Serialize)]
pub struct PairingInfo {
    /// The exact text in the QR code, copyable.
    pub url: String,
    /// The QR code as a standalone SVG document.
    pub svg: String,
    /// The `ws://…`/`wss://…` base inside the URL.
    pub base: String,
    /// LAN bases to choose from, best first (empty when none was found).
    pub addresses: Vec<String>,
    /// Whether `base` is a loopback address a phone cannot reach (no LAN found).
    pub loopback_only: bool,
    /// Requested and actual port.
    pub port: PortInfo,
}

/// Every connection now, for the binding table's first draw; later changes arrive as
/// [`events::EVENT_CONNECTIONS`].
#[tauri::command]
pub fn list_connections(state: State<'_, AppState>) -> Vec<ConnectionView> {
    events::connections(&state.relay, state.terminal.id())
}

/// The pairing URL and its QR code for `base` (a typed `ws://`/`wss://` address, or one of
/// the LAN bases), or for the best LAN address when `base` is empty.
///
/// # Errors
/// `invalid_url` when the typed address cannot be a relay URL.
#[tauri::command]
pub fn pairing_info(
    state: State<'_, AppState>,
    base: Option<String>,
) -> CommandResult<PairingInfo> {
    let port = state.port.actual;
    let addresses: Vec<String> = pairing::best_lan_address()
        .map(|ip| pairing::ws_base(ip.into(), port))
        .into_iter()
        .collect();
    let fallback = pairing::ws_base(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let base = match base.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        Some(typed) => pairing::validate_public_url(typed)
            .map_err(|e| CommandError::new("invalid_url", format!("{typed}: {e}")))?,
        None => addresses.first().cloned().unwrap_or(fallback),
    };
    let url = state.terminal.pairing_url(&base);
    let svg = pairing::qr_svg(&url).map_err(|e| CommandError::new("qr", e))?;
    Ok(PairingInfo {
        loopback_only: addresses.is_empty(),
        url,
        svg,
        base,
        addresses,
        port: state.port,
    })
}
