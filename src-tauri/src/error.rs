//! The error every command returns: `{kind, message}` for the UI.
//!
//! `kind` is stable and the UI switches on it (to pick a translated sentence); `message` is
//! plain words safe to show as is; the technical detail goes to the log file here, where
//! the error is mapped, never to the window.

use dglab_core::player::PlayerError;
use dglab_core::presets::PresetError;
use dglab_core::safety::{ConfigError, SafetyError};
use dglab_core::terminal::TerminalError;
use dglab_core::waveform::share::ParseError;
use serde::Serialize;

/// A command's failure, as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// Stable machine word: `not_paired`, `stopped`, `invalid_url`, `invalid_share`, …
    pub kind: &'static str,
    /// One sentence for a person.
    pub message: String,
}

impl CommandError {
    /// An error with a fixed kind and a sentence.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        CommandError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for CommandError {}

impl From<TerminalError> for CommandError {
    fn from(e: TerminalError) -> Self {
        log::warn!("terminal command failed: {e:?}");
        match e {
            TerminalError::NotPaired => CommandError::new(
                "not_paired",
                "No phone is paired: scan the QR code with the DG-LAB App first.",
            ),
            TerminalError::Closed => {
                CommandError::new("phone_gone", "The connection to the phone is gone.")
            }
            TerminalError::StrengthOutOfRange(_) => {
                CommandError::new("out_of_range", e.to_string())
            }
            TerminalError::FrameCount(_) | TerminalError::TooLong { .. } => {
                CommandError::new("too_long", e.to_string())
            }
            TerminalError::Refused(_) => CommandError::new("refused", e.to_string()),
            TerminalError::Busy => CommandError::new(
                "busy",
                "The phone is not keeping up; try again in a moment.",
            ),
        }
    }
}

impl From<SafetyError> for CommandError {
    fn from(e: SafetyError) -> Self {
        match e {
            SafetyError::Latched => CommandError::new(
                "stopped",
                "Emergency stop is on: re-arm before changing strength or playing.",
            ),
            SafetyError::LeaseLapsed => CommandError::new(
                "watchdog",
                "The window stopped responding, so output was stopped; it resumes at 0.",
            ),
            SafetyError::Terminal(t) => t.into(),
        }
    }
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        CommandError::new("invalid_setting", e.to_string())
    }
}

impl From<PresetError> for CommandError {
    fn from(e: PresetError) -> Self {
        log::warn!("preset operation failed: {e:?}");
        let kind = match &e {
            PresetError::Io { .. } => "io",
            PresetError::Corrupt { .. } => "presets_corrupt",
            PresetError::ReadOnly(_) => "read_only",
            PresetError::NotFound(_) => "not_found",
            PresetError::AlreadyExists(_) => "exists",
            PresetError::InvalidName { .. } => "invalid_name",
            PresetError::Invalid(_) => "invalid_pattern",
        };
        CommandError::new(kind, e.to_string())
    }
}

impl From<ParseError> for CommandError {
    fn from(e: ParseError) -> Self {
        log::info!("share string refused: {e}");
        CommandError::new(
            "invalid_share",
            format!("This is not a DG-LAB waveform share string ({}).", e.kind),
        )
    }
}

impl From<PlayerError> for CommandError {
    fn from(e: PlayerError) -> Self {
        match e {
            PlayerError::Output(t) => t.into(),
            other => {
                log::error!("player: {other:?}");
                CommandError::new("player", other.to_string())
            }
        }
    }
}

/// What commands return.
pub type CommandResult<T> = Result<T, CommandError>;
