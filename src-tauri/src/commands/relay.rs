//! The relay: who is connected, and what the phone scans.

use crate::error::{self, CommandError, CommandResult};
use crate::events::{self, ConnectionView};
use crate::notice::Kind;
use crate::settings::PairingApp;
use crate::state::{AppState, PortInfo};
use dglab_core::pairing;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use tauri::{AppHandle, Runtime, State};

/// One address the QR code could carry.
#[derive(Debug, Clone, Serialize)]
pub struct AddressView {
    /// The IPv4 address (what the settings keep).
    pub addr: String,
    /// Interface name, to help the user recognise it.
    pub interface: String,
    /// `default_route`, `lan`, `other` or `virtual`.
    pub tier: pairing::Tier,
}

/// What the QR panel shows.
#[derive(Debug, Clone, Serialize)]
pub struct PairingInfo {
    /// Which App the code is for: `socket` (DG-LAB App 3.x) or `v4` (4.x).
    pub app: PairingApp,
    /// The exact text in the QR code, copyable.
    pub url: String,
    /// The QR code as a standalone SVG document.
    pub svg: String,
    /// The `ws://…`/`wss://…` base inside the URL.
    pub base: String,
    /// The address chosen: one of `addresses[].addr`, or the typed URL.
    pub chosen: String,
    /// LAN addresses, best first (empty when none was found).
    pub addresses: Vec<AddressView>,
    /// No LAN address was found: the URL holds loopback, which a phone cannot reach.
    pub loopback_only: bool,
    /// Requested and actual port (of the V4 relay for `v4`).
    pub port: PortInfo,
}

/// Every connection now, for the binding table's first draw; later changes arrive as
/// [`events::EVENT_CONNECTIONS`].
#[tauri::command]
pub fn list_connections(state: State<'_, AppState>) -> Vec<ConnectionView> {
    events::connections(&state.relay, state.guarded.id())
}

/// The base for `choice`: a LAN address among the candidates (with the port of `app`'s
/// relay) or a typed `ws://`/`wss://` URL; `None` or a LAN address no longer present picks
/// the best one.
pub(crate) fn resolve(
    state: &AppState,
    app: PairingApp,
    choice: Option<&str>,
) -> CommandResult<PairingInfo> {
    let port_info = match app {
        PairingApp::Socket => state.port,
        PairingApp::V4 => state.v4.port,
    };
    let port = port_info.actual;
    let candidates = pairing::lan_candidates().unwrap_or_else(|e| {
        log::warn!("cannot list network interfaces: {e}");
        Vec::new()
    });
    let addresses: Vec<AddressView> = candidates
        .iter()
        .map(|c| AddressView {
            addr: c.addr.to_string(),
            interface: c.interface.clone(),
            tier: c.tier,
        })
        .collect();
    let lan = |addr: &str| candidates.iter().find(|c| c.addr.to_string() == addr);
    let best = || {
        candidates
            .first()
            .map(|c| (c.addr.to_string(), pairing::ws_base(c.addr.into(), port)))
            .unwrap_or_else(|| {
                let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
                (lo.to_string(), pairing::ws_base(lo, port))
            })
    };
    let (chosen, base) = match choice.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) if c.contains("://") => {
            let base = pairing::validate_public_url(c).map_err(|e| error::invalid_url(c, &e))?;
            (base.clone(), base)
        }
        Some(c) => match lan(c) {
            Some(found) => (c.to_owned(), pairing::ws_base(found.addr.into(), port)),
            None => best(),
        },
        None => best(),
    };
    let url = match app {
        PairingApp::Socket => state.guarded.pairing_url(&base),
        PairingApp::V4 => pairing::v4_pairing_link(&base, state.v4.controller_id()),
    };
    let svg = pairing::qr_svg(&url).map_err(|e| {
        log::error!("QR code: {e}");
        CommandError::new(Kind::Qr)
    })?;
    Ok(PairingInfo {
        app,
        loopback_only: addresses.is_empty(),
        url,
        svg,
        base,
        chosen,
        addresses,
        port: port_info,
    })
}

/// The pairing URL and its QR code for the saved address choice.
///
/// # Errors
/// `invalid_url` if the saved address became invalid (it is then ignored next time).
#[tauri::command]
pub fn pairing_info(state: State<'_, AppState>) -> CommandResult<PairingInfo> {
    let (app, saved) = {
        let s = state.settings();
        (s.pairing_app, s.address_for(s.pairing_app).cloned())
    };
    resolve(&state, app, saved.as_deref()).or_else(|_| resolve(&state, app, None))
}

/// Chooses the address in the QR code of the App shown (a LAN address, a typed
/// `ws://`/`wss://` URL, or `None` for automatic) and saves the choice (off the main
/// thread, behind the one settings lock).
///
/// # Errors
/// `invalid_url` for a typed address that cannot be a relay URL (nothing is saved).
#[tauri::command]
pub async fn set_pairing_address<R: Runtime>(
    app: AppHandle<R>,
    choice: Option<String>,
) -> CommandResult<PairingInfo> {
    super::off_main(app, "settings", move |state| {
        let app = state.settings().pairing_app;
        let info = resolve(state, app, choice.as_deref())?;
        state.update_settings(|s| {
            *s.address_for_mut(app) = choice
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty());
            Ok(())
        })?;
        Ok(info)
    })
    .await
}
