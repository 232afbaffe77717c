//! Settings: read, validate, save, apply what can be applied at once.

use super::off_main;
use crate::error::CommandResult;
use crate::settings::{self, Settings, SettingsLimits};
use crate::state::AppState;
use serde::Serialize;
use tauri::{AppHandle, Runtime, State};

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

fn view(state: &AppState) -> SettingsView {
    let s = state.settings().clone();
    // What runs now was read at start.
    let running = state.running_settings();
    SettingsView {
        restart_needed: s.port != running.port
            || s.heartbeat_secs != running.heartbeat_secs
            || s.max_rise_per_sec != running.max_rise_per_sec
            || s.v4_port != running.v4_port,
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
/// Off the main thread, behind the one settings lock.
///
/// # Errors
/// `invalid_setting` naming the wrong value; `io` when the file cannot be written.
#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    settings: Settings,
) -> CommandResult<SettingsView> {
    settings.validate()?;
    off_main(app, "settings", move |state| {
        state.update_settings(|s| {
            state.safety.set_caps(settings.cap_a, settings.cap_b)?;
            // The Games panel owns the game API's part (set_games_api, new_games_token):
            // a settings dialog opened before its last change must not undo it.
            let games = s.games.clone();
            *s = settings;
            s.games = games;
            Ok(())
        })?;
        Ok(view(state))
    })
    .await
}
