//! The crate's error type, for callers that branch on what went wrong.

use crate::protocol::Code;

/// Everything a caller of the core may need to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket or file operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The WebSocket layer failed (remote terminal).
    #[error("websocket: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// A terminal command could not be sent.
    #[error(transparent)]
    Terminal(#[from] crate::terminal::TerminalError),
    /// The safety gate refused a command (latched, lease lapsed) or could not send it.
    #[error(transparent)]
    Safety(#[from] crate::safety::SafetyError),
    /// The relay answered with a protocol code.
    #[error("relay answered {0}")]
    Protocol(Code),
    /// Something that should have arrived did not in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
