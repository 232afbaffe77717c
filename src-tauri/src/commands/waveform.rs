//! Waveforms: the editor's tables, expansion for the preview, share strings, playback.

use crate::error::{pattern_from, CommandResult};
use crate::notice::{self, Notice};
use crate::state::AppState;
use crate::Range;
use dglab_core::player::Repeat;
use dglab_core::protocol::command::Channel;
use dglab_core::protocol::frame::{FREQ_BYTE_RANGE, INTENSITY_RANGE};
use dglab_core::protocol::Frame;
use dglab_core::waveform::pattern::{DURATION, FREQ, MAX_POINTS, MAX_SECTIONS};
use dglab_core::waveform::{share, Balance, FrequencyMode, Pattern, PlayRate, Rest};
use serde::{Deserialize, Serialize};
use tauri::State;

/// A new pattern's header, as the core defaults it.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderDefaults {
    /// `rest`.
    pub rest: Rest,
    /// `playRate`.
    pub play_rate: PlayRate,
    /// `balance`.
    pub balance: Balance,
}

/// The App's pattern model as the editor needs it: lookup tables (so it shows Hz and
/// seconds for the indices it stores) and every limit, all from the core.
#[derive(Debug, Clone, Serialize)]
pub struct PatternLimits {
    /// Frequency value (Hz) by index; a section's `freqA`/`freqB` index it.
    pub freq: &'static [u16],
    /// Section length in 100 ms units by index; a section's `duration` indexes it.
    pub duration: &'static [u16],
    /// Most sections in a pattern.
    pub max_sections: usize,
    /// Most points in a section.
    pub max_points: usize,
    /// A point's value (the frame gets its integer part).
    pub point_value: Range,
    /// The header's `rest`.
    pub rest: Range,
    /// The header's `balance`.
    pub balance: Range,
    /// The allowed `playRate` values.
    pub play_rates: [PlayRate; 3],
    /// The frequency modes, in the App's order.
    pub modes: [FrequencyMode; 4],
    /// A new pattern's header.
    pub defaults: HeaderDefaults,
    /// A decoded frame's frequency bytes.
    pub freq_byte: Range,
    /// A decoded frame's intensities.
    pub intensity: Range,
}

/// One 100 ms frame, decoded: four 25 ms slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FrameView {
    /// Frequency byte of each slot.
    pub freq: [u8; 4],
    /// Intensity of each slot.
    pub intensity: [u8; 4],
}

impl From<&Frame> for FrameView {
    fn from(f: &Frame) -> Self {
        FrameView {
            freq: f.freq(),
            intensity: f.intensity(),
        }
    }
}

/// What one pass of a pattern plays.
#[derive(Debug, Clone, Serialize)]
pub struct Expansion {
    /// The frames, decoded by the core (the preview draws them).
    pub frames: Vec<FrameView>,
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
    /// Repairs, as `{kind, params}` (empty for a well-formed string).
    pub warnings: Vec<Notice>,
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

/// The pattern model's tables and limits.
#[tauri::command]
pub fn pattern_limits() -> PatternLimits {
    let (rest, play_rate, balance) = Pattern::header_defaults();
    PatternLimits {
        freq: &FREQ,
        duration: &DURATION,
        max_sections: MAX_SECTIONS,
        max_points: MAX_POINTS,
        point_value: INTENSITY_RANGE.into(),
        rest: (Rest::MIN..=Rest::MAX).into(),
        balance: (Balance::MIN..=Balance::MAX).into(),
        play_rates: [PlayRate::X1, PlayRate::X2, PlayRate::X4],
        modes: [
            FrequencyMode::Fixed,
            FrequencyMode::SectionRamp,
            FrequencyMode::ElementRamp,
            FrequencyMode::StepRamp,
        ],
        defaults: HeaderDefaults {
            rest,
            play_rate,
            balance,
        },
        freq_byte: FREQ_BYTE_RANGE.into(),
        intensity: INTENSITY_RANGE.into(),
    }
}

/// Expands a pattern for the preview (and checks it).
///
/// # Errors
/// `invalid_pattern`.
#[tauri::command]
pub fn expand_pattern(pattern: serde_json::Value) -> CommandResult<Expansion> {
    let p = pattern_from(pattern)?;
    Ok(Expansion {
        frames: p.frames().iter().map(FrameView::from).collect(),
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
        warnings: parsed.warnings.iter().map(notice::share_warning).collect(),
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
