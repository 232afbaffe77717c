//! What the gate answers when it refuses or cannot send.

use crate::terminal::TerminalError;

/// Why the gate refused or failed a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetyError {
    /// The emergency stop is latched: only 0, lowering and clears until re-armed.
    #[error("emergency stop is latched; re-arm first")]
    Latched,
    /// The controller's lease lapsed: only 0, lowering and clears until it is renewed.
    #[error("the controller's lease lapsed; renew it first")]
    LeaseLapsed,
    /// The terminal could not send (not paired, out of range, too long, closed, busy).
    #[error(transparent)]
    Terminal(#[from] TerminalError),
}
