//! The DG-LAB App 4.x in the window (issue 13 point 4): which App the pairing panel is for,
//! and the V4 part of the binding table.

use super::off_main;
use super::relay::{resolve, PairingInfo};
use crate::error::CommandResult;
use crate::settings::PairingApp;
use crate::state::AppState;
use crate::v4::V4ControllerView;
use tauri::{AppHandle, Runtime, State};

/// The V4 relay's table for the binding table's first draw: every controller (ours
/// first), its 4.x Apps and the device slots they reported; later changes arrive as
/// [`crate::v4::EVENT_V4_APPS`].
#[tauri::command]
pub fn v4_apps(state: State<'_, AppState>) -> Vec<V4ControllerView> {
    state.v4.view()
}

/// Switches the pairing panel between the DG-LAB App 4.x (`v4`) and 3.x (`socket`), with
/// that App's saved address, and remembers the choice for the next start (off the main
/// thread, behind the one settings lock). Both relays keep running: an App already paired
/// either way stays paired.
///
/// # Errors
/// `io` when the settings cannot be written (nothing changes then).
#[tauri::command]
pub async fn set_pairing_app<R: Runtime>(
    app: AppHandle<R>,
    pairing_app: PairingApp,
) -> CommandResult<PairingInfo> {
    off_main(app, "settings", move |state| {
        state.update_settings(|s| {
            s.pairing_app = pairing_app;
            Ok(())
        })?;
        let saved = state.settings().address_for(pairing_app).cloned();
        resolve(state, pairing_app, saved.as_deref()).or_else(|_| resolve(state, pairing_app, None))
    })
    .await
}

/// Sets one channel (`A` or `B`) of one device slot of one of our 4.x Apps, through the
/// safety gate (caps, rise rate, STOP). Returns the level it will reach (a raise ramps).
///
/// # Errors
/// `stopped` while the emergency stop holds (for a raise); `device_gone` when the App
/// or slot is gone; `refused` with the policy's reason otherwise.
#[tauri::command]
pub fn v4_set_strength(
    state: State<'_, AppState>,
    app: String,
    slot: String,
    channel: dglab_core::Channel,
    value: u8,
) -> CommandResult<i64> {
    use crate::error::CommandError;
    use crate::notice::Kind;
    use dglab_core::terminal::v4::V4ControllerError as E;
    let Some(id) = dglab_core::relay::v4::V4Id::parse(&app) else {
        return Err(CommandError::new(Kind::DeviceGone));
    };
    let c = u8::from(channel != dglab_core::Channel::A);
    state
        .v4
        .set_strength(id, &slot, c, value)
        .map_err(|e| match e {
            E::Refused(why) if why.starts_with("stopped") => {
                CommandError::new(Kind::Stopped).with("channel", channel.letter())
            }
            E::Refused(why) => {
                log::info!("V4 strength refused: {why}");
                CommandError::new(Kind::Refused).with("code", "refused")
            }
            E::NoSuchApp | E::NoSuchSlot | E::Gone | E::UnknownLevel => {
                CommandError::new(Kind::DeviceGone)
            }
        })
}
