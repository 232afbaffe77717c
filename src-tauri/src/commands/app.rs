//! About the app itself: where its files are, which global shortcuts it holds, and what
//! had to be recovered at start.

use crate::notice::{Kind, Notice};
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
    /// The safety watchdog's lease in ms: the window renews well within it (`None`: no
    /// watchdog, nothing to renew).
    pub lease_ms: Option<u64>,
    /// Files found unreadable at start and moved aside, as `{kind, params}`.
    pub notices: Vec<Notice>,
}

/// Version, file locations, global shortcuts, start-up notices.
#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>) -> AppInfo {
    let state = app.try_state::<AppState>();
    let mut notices = Vec::new();
    if let Some(s) = &state {
        // Why each file was unreadable is in the log.
        if let Some((moved_to, _why)) = &s.settings_file.recovered {
            notices.push(Notice::new(Kind::SettingsRecovered).with("moved_to", moved_to));
        }
        if let Some(r) = &s.presets_recovered {
            notices.push(Notice::new(Kind::PresetsRecovered).with("moved_to", &r.moved_to));
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
        lease_ms: state
            .as_ref()
            .and_then(|s| s.lease)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        notices,
    }
}
