//! Presets: the core's `PresetStore` in the app's data folder.

use crate::error::{pattern_from, CommandError, CommandResult};
use crate::notice::Kind;
use crate::state::AppState;
use dglab_core::presets::{PresetBody, PresetError, PresetSummary};
use dglab_core::waveform::Pattern;
use serde::Serialize;
use tauri::State;

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
pub fn list_presets(state: State<'_, AppState>) -> CommandResult<Vec<PresetSummary>> {
    Ok(state.presets.list()?)
}

/// One preset's pattern.
///
/// # Errors
/// `not_found`; `not_editable` for a plain frame list (it has no pattern to edit).
#[tauri::command]
pub fn get_preset(state: State<'_, AppState>, name: String) -> CommandResult<PresetView> {
    let p = state.presets.get(&name)?;
    match p.body {
        PresetBody::Pattern(pattern) => Ok(PresetView {
            name: p.name,
            builtin: p.builtin,
            pattern,
        }),
        PresetBody::Frames(_) => Err(CommandError::new(Kind::NotEditable).with("name", name)),
    }
}

/// Saves a pattern under `name`. With `overwrite` false (save as) an existing name is
/// refused so the UI can ask first.
///
/// # Errors
/// `exists`, `read_only`, `invalid_name`, `invalid_pattern`, `io`.
#[tauri::command]
pub fn save_preset(
    state: State<'_, AppState>,
    name: String,
    pattern: serde_json::Value,
    overwrite: bool,
) -> CommandResult<Vec<PresetSummary>> {
    let pattern: Pattern = pattern_from(pattern)?;
    if !overwrite && state.presets.get(&name).is_ok() {
        return Err(PresetError::AlreadyExists(name).into());
    }
    state.presets.save(&name, PresetBody::Pattern(pattern))?;
    Ok(state.presets.list()?)
}

/// Renames a user preset.
///
/// # Errors
/// `exists`, `read_only`, `not_found`, `invalid_name`, `io`.
#[tauri::command]
pub fn rename_preset(
    state: State<'_, AppState>,
    from: String,
    to: String,
) -> CommandResult<Vec<PresetSummary>> {
    state.presets.rename(&from, &to)?;
    Ok(state.presets.list()?)
}

/// Deletes a user preset (the UI has asked for confirmation).
///
/// # Errors
/// `read_only`, `not_found`, `io`.
#[tauri::command]
pub fn delete_preset(
    state: State<'_, AppState>,
    name: String,
) -> CommandResult<Vec<PresetSummary>> {
    state.presets.delete(&name)?;
    Ok(state.presets.list()?)
}
