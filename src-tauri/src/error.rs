//! The error every command returns: `{kind, message}` for the UI.
//!
//! `kind` is stable and the UI switches on it (to pick a translated sentence); `message` is
//! plain words safe to show as is; the technical detail goes to the log file where the
//! error is made, never to the window.

use dglab_core::terminal::TerminalError;
use serde::Serialize;

/// A command's failure, as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// Stable machine word: `not_paired`, `stopped`, `invalid_url`, `out_of_range`, …
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
        log::warn!("terminal command failed: {e}");
        let kind = match e {
            TerminalError::NotPaired => "not_paired",
            TerminalError::StrengthOutOfRange(_) => "out_of_range",
            TerminalError::FrameCount(_) | TerminalError::TooLong { .. } => "too_long",
            TerminalError::Refused(_) => "refused",
            TerminalError::Closed => "closed",
            TerminalError::Busy => "busy",
        };
        let message = match e {
            TerminalError::NotPaired => {
                "No phone is paired: scan the QR code with the DG-LAB App first.".to_owned()
            }
            TerminalError::Closed => "The connection to the phone is gone.".to_owned(),
            other => other.to_string(),
        };
        CommandError { kind, message }
    }
}

/// What commands return.
pub type CommandResult<T> = Result<T, CommandError>;
