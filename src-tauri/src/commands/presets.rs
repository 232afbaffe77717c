//! Presets: the core's `PresetStore` in the app's data folder. Every command reads or
//! writes `presets.json`, so each runs off the main thread ([`super::off_main`]).

use super::off_main;
use crate::error::{pattern_from, CommandError, CommandResult};
use crate::notice::Kind;
use dglab_core::presets::{PresetBody, PresetError, PresetSummary};
use dglab_core::waveform::Pattern;
use serde::Serialize;
use tauri::{AppHandle, Runtime};

/// A preset for the editor.
#[derive(Debug, Clone, Serialize)]
pub struct PresetView {
    /// Its name.
    pub name: String,
    /// Read-only.
    pub builtin: bool,
    /// The pattern.
    pub pattern: Pattern,
}

/// Built-in presets first, then the user's.
///
/// # Errors
/// `io` or `presets_corrupt`.
#[tauri::command]
pub async fn list_presets<R: Runtime>(app: AppHandle<R>) -> CommandResult<Vec<PresetSummary>> {
    off_main(app, "presets", |state| Ok(state.presets.list()?)).await
}

/// One preset's pattern.
///
/// # Errors
/// `not_found`; `not_editable` for a plain frame list (it has no pattern to edit).
#[tauri::command]
pub async fn get_preset<R: Runtime>(app: AppHandle<R>, name: String) -> CommandResult<PresetView> {
    off_main(app, "presets", move |state| {
        let p = state.presets.get(&name)?;
        match p.body {
            PresetBody::Pattern(pattern) => Ok(PresetView {
                name: p.name,
                builtin: p.builtin,
                pattern,
            }),
            PresetBody::Frames(_) => Err(CommandError::new(Kind::NotEditable).with("name", name)),
        }
    })
    .await
}

/// Saves a pattern under `name`. With `overwrite` false (save as) an existing name is
/// refused so the UI can ask first.
///
/// # Errors
/// `exists`, `read_only`, `invalid_name`, `invalid_pattern`, `io`.
#[tauri::command]
pub async fn save_preset<R: Runtime>(
    app: AppHandle<R>,
    name: String,
    pattern: serde_json::Value,
    overwrite: bool,
) -> CommandResult<Vec<PresetSummary>> {
    let pattern: Pattern = pattern_from(pattern)?;
    off_main(app, "presets", move |state| {
        if !overwrite && state.presets.get(&name).is_ok() {
            return Err(PresetError::AlreadyExists(name).into());
        }
        state.presets.save(&name, PresetBody::Pattern(pattern))?;
        Ok(state.presets.list()?)
    })
    .await
}

/// Renames a user preset.
///
/// # Errors
/// `exists`, `read_only`, `not_found`, `invalid_name`, `io`.
#[tauri::command]
pub async fn rename_preset<R: Runtime>(
    app: AppHandle<R>,
    from: String,
    to: String,
) -> CommandResult<Vec<PresetSummary>> {
    off_main(app, "presets", move |state| {
        state.presets.rename(&from, &to)?;
        Ok(state.presets.list()?)
    })
    .await
}

/// Deletes a user preset (the UI has asked for confirmation).
///
/// # Errors
/// `read_only`, `not_found`, `io`.
#[tauri::command]
pub async fn delete_preset<R: Runtime>(
    app: AppHandle<R>,
    name: String,
) -> CommandResult<Vec<PresetSummary>> {
    off_main(app, "presets", move |state| {
        state.presets.delete(&name)?;
        Ok(state.presets.list()?)
    })
    .await
}
