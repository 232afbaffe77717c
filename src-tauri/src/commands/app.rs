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
        if let Some(a) = &s.presets_set_aside {
            let names: Vec<&str> = a.entries.iter().map(|e| e.name.as_str()).collect();
            notices.push(
                Notice::new(Kind::PresetsSetAside)
                    .with("names", names.join(", "))
                    .with("moved_to", &a.moved_to),
            );
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

/// The log file's name inside the log folder (`run()` gives the log plugin this name).
pub const LOG_FILE: &str = "dglab-hub.log";

/// How much of the log's end [`recent_log`] returns at most.
pub const RECENT_LOG_BYTES: u64 = 16 * 1024;

/// The last `max_lines` whole lines of `path` (reading at most [`RECENT_LOG_BYTES`] from
/// its end); an absent file is an empty log.
///
/// # Errors
/// The file system's error other than "not found".
pub fn tail_lines(path: &std::path::Path, max_lines: usize) -> std::io::Result<Vec<String>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let start = len.saturating_sub(RECENT_LOG_BYTES);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    // A read that starts mid-file starts mid-line: drop that partial first line.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(max_lines);
    Ok(lines[skip..].iter().map(|l| (*l).to_owned()).collect())
}

/// The end of the log file, newest line last: the settings panel's "recent log".
///
/// # Errors
/// `io` (`what`: `log`) when the file exists but cannot be read.
#[tauri::command]
pub fn recent_log<R: Runtime>(app: AppHandle<R>) -> crate::error::CommandResult<Vec<String>> {
    let Ok(dir) = app.path().app_log_dir() else {
        return Ok(Vec::new());
    };
    tail_lines(&dir.join(LOG_FILE), 40).map_err(|e| {
        log::warn!("cannot read the log: {e}");
        crate::error::CommandError::new(Kind::Io).with("what", "log")
    })
}

/// Opens the log folder in the desktop's file manager (the opener plugin, from Rust, so
/// the window needs no file-system permission).
///
/// # Errors
/// `open_failed` with the folder's path when there is no log folder or nothing can open it.
#[tauri::command]
pub fn open_log_folder<R: Runtime>(app: AppHandle<R>) -> crate::error::CommandResult<()> {
    let dir = app
        .path()
        .app_log_dir()
        .map_err(|_| crate::error::CommandError::new(Kind::OpenFailed).with("path", ""))?;
    let fail = || {
        crate::error::CommandError::new(Kind::OpenFailed).with("path", dir.display().to_string())
    };
    // The plugin is registered by `run()`; an app without it (the tests' mock) refuses.
    let opener = app
        .try_state::<tauri_plugin_opener::Opener<R>>()
        .ok_or_else(fail)?;
    let _ = std::fs::create_dir_all(&dir);
    opener
        .open_path(dir.display().to_string(), None::<&str>)
        .map_err(|e| {
            log::warn!("cannot open {}: {e}", dir.display());
            fail()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_whole_lines() {
        let dir = std::env::temp_dir().join(format!("dglab-hub-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(LOG_FILE);
        assert!(
            tail_lines(&path, 5).unwrap().is_empty(),
            "no file, no lines"
        );
        let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let tail = tail_lines(&path, 3).unwrap();
        assert_eq!(tail, ["line 4997", "line 4998", "line 4999"]);
        let long = tail_lines(&path, 100_000).unwrap();
        assert!(
            long.len() < 5000 && long[0].starts_with("line "),
            "{:?}",
            &long[0]
        );
        assert_eq!(long.last().unwrap(), "line 4999");
    }
}
