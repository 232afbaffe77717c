//! The seam for a policy on what reaches V4 Apps, like [`crate::relay::AppGuard`] for
//! SOCKET v2: the relay knows nothing of caps or stops. It asks a [`V4Guard`], when one is
//! set ([`crate::relay::v4::V4Handle::set_guard`]), about every `message` a controller —
//! socket or in-process — sends to an App, and tells it every `message` an App sends
//! back, so a policy can follow the App's real levels. Without one everything passes.
//!
//! Payloads are the raw JSON text of `data` (the relay does not parse it).

use super::event::V4Id;

/// What happens to one payload bound for an App.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V4Verdict {
    /// Deliver it as it is.
    Pass,
    /// Deliver this `data` instead (JSON text; e.g. a strength delta clamped to a cap).
    Replace(String),
    /// Deliver nothing. With `Some(data)`, the controller gets that `data` as if the App
    /// had sent it (e.g. `{"t":"resp","reqId":"7","error":"refused"}`, so an SDK waiting on
    /// the request is not left to time out); with `None`, an `error` frame with code
    /// `refused` and the App's `clientId`.
    Refuse(Option<String>),
}

/// A policy on the payloads that reach V4 Apps.
///
/// Called inline while the relay routes, under its lock: every method must return at once,
/// never wait, never log at length and never call back into the relay.
pub trait V4Guard: Send + Sync + std::fmt::Debug {
    /// `controller` sends `data` to its App `app`.
    fn controller_sent(&self, app: V4Id, controller: V4Id, data: &str) -> V4Verdict;

    /// `app` sends `data` to its controller. Returns payloads to send the App at once, as
    /// if from its controller (e.g. a level brought back under a cap).
    fn app_sent(&self, app: V4Id, controller: V4Id, data: &str) -> Vec<String>;

    /// The App left (closed, or its controller did).
    fn app_left(&self, app: V4Id);
}
