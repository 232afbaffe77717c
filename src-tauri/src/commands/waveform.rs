//! Waveforms: the editor's tables, expansion for the preview, share strings, playback.

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;
use dglab_core::player::Repeat;
use dglab_core::protocol::command::Channel;
use dglab_core::waveform::pattern::{DURATION, FREQ, MAX_POINTS, MAX_SECTIONS};
use dglab_core::waveform::{share, Pattern};
use serde::{Deserialize, Serialize};
use tauri::State;

/// The App's lookup tables, so the editor shows Hz and seconds for the indices it stores.
#[derive(Debug, Clone, Serialize)]
pub struct Tables {
    /// Frequency value (Hz) by index 0..=83.
    pub freq: &'static [u16],
    /// Section length in 100 ms units by index 0..=99.
    pub duration: &'static [u16],
    /// Most sections in a pattern.
    pub max_sections: usize,
    /// Most points in a section.
    pub max_points: usize,
}

/// What one pass of a pattern plays.
#[derive(Debug, Clone, Serialize)]
pub struct Expansion {
    /// The frames as the wire carries them (16 hex digits each).
    pub frames: Vec<String>,
    /// One pass, rest included.
    pub duration_ms: u64,
    /// The canonical share string of the pattern.
    pub share: String,
}

/// A share string's pattern and what had to be repaired to read it.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    /// The pattern, ready for the editor.
    pub pattern: Pattern,
    /// Repairs, in plain words (empty for a well-formed string).
    pub warnings: Vec<String>,
}

/// Once or looped, as the UI says it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepeatArg {
    /// One pass.
    Once,
    /// Until stopped.
    Loop,
}

/// The editor sends its model as JSON; reading it here (not as a typed argument) turns a
/// rule it breaks into a `{kind, message}` error instead of Tauri's bare string.
fn pattern_from(value: serde_json::Value) -> CommandResult<Pattern> {
    serde_json::from_value(value).map_err(|e| {
        CommandError::new(
            "invalid_pattern",
            format!("The waveform is not valid: {e}."),
        )
    })
}

/// The frequency and duration tables.
#[tauri::command]
pub fn waveform_tables() -> Tables {
    Tables {
        freq: &FREQ,
        duration: &DURATION,
        max_sections: MAX_SECTIONS,
        max_points: MAX_POINTS,
    }
}

/// Expands a pattern for the preview (and checks it).
///
/// # Errors
/// `invalid_pattern` naming the rule it breaks.
#[tauri::command]
pub fn expand_pattern(pattern: serde_json::Value) -> CommandResult<Expansion> {
    let p = pattern_from(pattern)?;
    Ok(Expansion {
        frames: p.frames().iter().map(|f| f.to_hex()).collect(),
        duration_ms: p.duration_ms(),
        share: share::format(&p),
    })
}

/// Reads a pasted `Dungeonlab+pulse:` string (leniently: repairs are listed).
///
/// # Errors
/// `invalid_share` when it is not a waveform at all.
#[tauri::command]
pub fn parse_share(text: String) -> CommandResult<Imported> {
    let parsed = share::parse(text.trim())?;
    Ok(Imported {
        pattern: parsed.pattern,
        warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
    })
}

/// Plays a pattern on the given channels, once or looped, replacing what plays there.
///
/// # Errors
/// `stopped` while the emergency stop is latched; `invalid_pattern`; the player's errors.
#[tauri::command]
pub fn play_waveform(
    state: State<'_, AppState>,
    channels: Vec<Channel>,
    pattern: serde_json::Value,
    repeat: RepeatArg,
) -> CommandResult<()> {
    if state.safety.is_latched() {
        return Err(dglab_core::safety::SafetyError::Latched.into());
    }
    let frames = pattern_from(pattern)?.frames();
    let repeat = match repeat {
        RepeatArg::Once => Repeat::Once,
        RepeatArg::Loop => Repeat::Loop,
    };
    for ch in channels {
        state.player(ch).play(frames.clone(), repeat)?;
    }
    Ok(())
}

/// Stops playback on the given channels and clears their queues at the App.
///
/// # Errors
/// The clear's error (e.g. not paired); playback stops either way.
#[tauri::command]
pub fn stop_waveform(state: State<'_, AppState>, channels: Vec<Channel>) -> CommandResult<()> {
    let mut result = Ok(());
    for ch in channels {
        if let Err(e) = state.player(ch).stop() {
            result = Err(e.into());
        }
    }
    result
}
