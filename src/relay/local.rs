//! In-process endpoints: connections without a socket, such as a local terminal.
//!
//! The relay knows nothing of what sits behind an endpoint. It hands each one the frames
//! addressed to it through [`LocalEndpoint`], and the endpoint speaks through its
//! [`LocalLink`]: the same routing rules as a socket, minus the JSON.

use super::registry::Registry;
use crate::protocol::{Code, Envelope};
use uuid::Uuid;

/// What became of a frame handed to an in-process endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Taken (queued, or nothing to queue).
    Taken,
    /// Its bounded queue is full: the endpoint is not keeping up, and the relay drops it
    /// as "too slow", as it drops a socket that stops reading.
    Full,
    /// Nobody listens any more: the relay treats the endpoint as gone.
    Gone,
}

/// Why an in-process endpoint's frame was not relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// Refused with the code a socket would have been answered with (402 not paired, …).
    Refused(Code),
    /// The partner's queue is full. A socket sender is paused until it drains; an
    /// in-process one cannot be, so it is told, and the partner keeps its pairing.
    Busy,
}

impl From<Code> for SendError {
    fn from(code: Code) -> Self {
        SendError::Refused(code)
    }
}

/// Receives the frames the relay addresses to an in-process endpoint.
///
/// Called inline while the relay routes, so it must return at once: translate, queue in a
/// bounded queue, never wait and never call back into the relay.
pub trait LocalEndpoint: Send + Sync + std::fmt::Debug {
    /// Takes one frame.
    fn deliver(&self, frame: Envelope) -> Delivered;
}

/// An in-process endpoint's membership in the relay: its id, its pair, sending and
/// leaving. Dropping the link leaves the relay (the partner gets `break` 209).
#[derive(Debug)]
pub struct LocalLink {
    id: Uuid,
    registry: Registry,
}

impl LocalLink {
    pub(super) fn join(registry: &Registry, endpoint: Box<dyn LocalEndpoint>) -> Self {
        let id = registry.join_local(endpoint);
        LocalLink {
            id,
            registry: registry.clone(),
        }
    }

    /// The endpoint's id (a terminal's `clientId`).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The connection this endpoint is paired with, as the relay knows it right now.
    pub fn paired_with(&self) -> Option<Uuid> {
        self.registry.pair_of(self.id)
    }

    /// Routes a `msg` as if it came from a socket with this id. Returns the code a socket
    /// would have been answered with instead of answering with a frame.
    ///
    /// # Errors
    /// [`SendError::Refused`] with the protocol code (402 not paired, 405 too long, …);
    /// [`SendError::Busy`] when the partner's queue is full (nothing was queued).
    pub fn send(&self, frame: Envelope) -> Result<(), SendError> {
        self.registry.send_local(self.id, frame)
    }

    /// Leaves the relay now; the partner, if any, gets `break` 209. Leaving twice is harmless.
    pub fn leave(&self) {
        self.registry.leave(self.id, "terminal removed");
    }
}

impl Drop for LocalLink {
    fn drop(&mut self) {
        self.leave();
    }
}
