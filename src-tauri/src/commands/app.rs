//! About the app itself: where its files are, which global shortcuts it holds, and what
//! had to be recovered at start.

use crate::state::AppState;
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};

/// The global emergency-stop shortcuts that were registered (some desktops refuse some).
#[derive(Debug, Clone, Default)]
pub struct Shortcuts(pub Vec<String>);

/// What the settings panel and the status line show.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// The app's version.
    pub version: String,
    /// The folder holding the log file (for error details).
    pub log_dir: Option<String>,
    /// The settings file.
    pub settings_file: Option<String>,
    /// The folder holding `presets.json`.
    pub presets_dir: Option<String>,
    /// Global emergency-stop shortcuts in effect.
    pub shortcuts: Vec<String>,
    /// Files found unreadable at start and moved aside, in plain words.
    pub notices: Vec<String>,
}

/// Version, file locations, global shortcuts, start-up notices.
#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>) -> AppInfo {
    let state = app.try_state::<AppState>();
    let mut notices = Vec::new();
    if let Some(s) = &state {
        if let Some((moved_to, why)) = &s.settings_file.recovered {
            notices.push(format!(
                "The settings file was unreadable ({why}); defaults are in use and the old file was kept as {}.",
                moved_to.display()
            ));
        }
        if let Some(r) = &s.presets_recovered {
            notices.push(format!(
                "The presets file was unreadable ({}); it was kept as {}.",
                r.reason,
                r.moved_to.display()
            ));
        }
    }
    AppInfo {
        version: app.package_info().version.to_string(),
        log_dir: app
            .path()
            .app_log_dir()
            .ok()
            .map(|p| p.display().to_string()),
        settings_file: state
            .as_ref()
            .map(|s| s.settings_file.path.display().to_string()),
        presets_dir: state
            .as_ref()
            .map(|s| s.presets.dir().display().to_string()),
        shortcuts: app
            .try_state::<Shortcuts>()
            .map(|s| s.0.clone())
            .unwrap_or_default(),
        notices,
    }
}
