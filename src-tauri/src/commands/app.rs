//! About the app itself: where its log is, which global shortcuts it holds.

use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};

/// The global emergency-stop shortcuts that were registered (some desktops refuse some).
#[derive(Debug, Clone, Default)]
pub struct Shortcuts(pub Vec<String>);

/// What the settings and status bar show.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// The app's version.
    pub version: String,
    /// The folder holding the log file (for error details).
    pub log_dir: Option<String>,
    /// Global emergency-stop shortcuts in effect.
    pub shortcuts: Vec<String>,
}

/// Version, log folder, global shortcuts.
#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>) -> AppInfo {
    AppInfo {
        version: app.package_info().version.to_string(),
        log_dir: app
            .path()
            .app_log_dir()
            .ok()
            .map(|p| p.display().to_string()),
        shortcuts: app
            .try_state::<Shortcuts>()
            .map(|s| s.0.clone())
            .unwrap_or_default(),
    }
}
