//! Settings: read, validate, save, apply what can be applied at once.

use crate::error::{CommandError, CommandResult};
use crate::notice::Kind;
use crate::settings::{self, Settings, SettingsLimits};
use crate::state::AppState;
use serde::Serialize;
use tauri::State;

/// Saved settings, their ranges, and whether some only take effect at the next start.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsView {
    /// What is saved.
    pub settings: Settings,
    /// The range of each number (the settings fields and the strength sliders use them).
    pub limits: SettingsLimits,
    /// Port, heartbeat or rise rate differ from what is running.
    pub restart_needed: bool,
}

/// Validates, saves and keeps `s` as the current settings.
pub(crate) fn persist(state: &AppState, s: Settings) -> CommandResult<()> {
    s.validate()?;
    settings::save(&state.settings_file.path, &s).map_err(|e| {
        log::error!("cannot save {}: {e}", state.settings_file.path.display());
        CommandError::new(Kind::Io).with("what", "settings")
    })?;
    *state.settings() = s;
    Ok(())
}

fn view(state: &AppState) -> SettingsView {
    let s = state.settings().clone();
    // What runs now was read at start.
    let running = state.running_settings();
    SettingsView {
        restart_needed: s.port != running.port
            || s.heartbeat_secs != running.heartbeat_secs
            || s.max_rise_per_sec != running.max_rise_per_sec,
        settings: s,
        limits: settings::LIMITS,
    }
}

/// The saved settings.
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> SettingsView {
    view(&state)
}

/// Saves the settings; caps apply at once, port, heartbeat and rise rate at the next start.
///
/// # Errors
/// `invalid_setting` naming the wrong value; `io` when the file cannot be written.
#[tauri::command]
pub fn save_settings(
    state: State<'_, AppState>,
    settings: Settings,
) -> CommandResult<SettingsView> {
    settings.validate()?;
    state.safety.set_caps(settings.cap_a, settings.cap_b)?;
    persist(&state, settings)?;
    Ok(view(&state))
}
