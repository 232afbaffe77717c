//! The seam for a relay-wide policy on what reaches the Apps.
//!
//! The relay knows nothing of caps or stops. It asks an [`AppGuard`], when one is set
//! ([`crate::relay::RelayHandle::set_app_guard`]), about every `msg` a terminal sends to
//! an App — whoever the terminal is: a socket, the vendor's web page, a `clientMsg`
//! repeat, an in-process terminal — and tells it every `msg` an App sends back, so the
//! policy can follow the App's real levels. The safety layer implements it.

use uuid::Uuid;

/// What happens to one frame bound for an App.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it as it is.
    Pass,
    /// Deliver this `message` instead (e.g. a strength clamped to a cap).
    Replace(String),
    /// Deliver nothing; the sender is answered with [`crate::protocol::Code::Refused`].
    Refuse,
}

/// A relay-wide policy on the frames that reach Apps.
///
/// Called inline while the relay routes, under its lock: every method must return at once,
/// never wait, never log at length and never call back into the relay.
pub trait AppGuard: Send + Sync + std::fmt::Debug {
    /// A terminal (`terminal`) sends `message` to its App (`app`).
    fn terminal_sent(&self, app: Uuid, terminal: Uuid, message: &str) -> Verdict;

    /// An App sends `message` to its terminal. Returns `message`s to send the App at once,
    /// as if from its terminal (e.g. a level brought back under a cap).
    fn app_sent(&self, app: Uuid, terminal: Uuid, message: &str) -> Vec<String>;

    /// The App left the relay.
    fn app_left(&self, app: Uuid);
}
