//! The in-process controller seam, like [`crate::relay::LocalLink`] for SOCKET v2: our own
//! controller joins the V4 relay without a socket, and its Apps see exactly the frames a
//! socket controller's would (§1). It speaks through a [`V4LocalLink`] and reads a
//! bounded [`V4Inbox`]; an inbox that is not read fast enough is dropped as "too slow",
//! as a socket that stops reading is.

use super::event::V4Id;
use super::hub::{Hub, V4SendError};
use tokio::sync::mpsc;

/// What the relay hands an in-process controller: the frames a socket controller gets,
/// minus `hello` (the link has the id), `heartbeat` and `error` (`send` returns errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V4Incoming {
    /// `client_attached`: an App joined with this controller's id.
    Attached(V4Id),
    /// `client_disconnected`: that App's socket closed.
    Detached(V4Id),
    /// `message`: a payload from an App, raw JSON text as it sent it.
    Message {
        /// The App.
        app: V4Id,
        /// Its `data`.
        data: String,
    },
}

/// An in-process controller's membership in the V4 relay. Dropping it leaves the relay:
/// its Apps get `controller_disconnected` and close 4000.
#[derive(Debug)]
pub struct V4LocalLink {
    id: V4Id,
    serial: u64,
    hub: Hub,
}

/// The bounded queue of frames for an in-process controller. Ends (`None`) when the
/// controller has left the relay, or was dropped for not reading it.
#[derive(Debug)]
pub struct V4Inbox(mpsc::Receiver<V4Incoming>);

impl V4LocalLink {
    pub(super) fn join(hub: &Hub, capacity: usize) -> (V4LocalLink, V4Inbox) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (id, serial) = hub.join_local(tx);
        (
            V4LocalLink {
                id,
                serial,
                hub: hub.clone(),
            },
            V4Inbox(rx),
        )
    }

    /// The controller's id: the `tid` in its pairing link.
    pub fn id(&self) -> V4Id {
        self.id
    }

    /// Its Apps right now, in the order they attached.
    pub fn apps(&self) -> Vec<V4Id> {
        self.hub.apps_of(self.id)
    }

    /// Sends `data` (JSON text, e.g. `{"t":"req","reqId":"1","m":"devices.get"}`) to one
    /// of its Apps as `{"type":"message","data":…}`, through the relay's guard.
    ///
    /// # Errors
    /// What a socket controller would have been answered with, and `InvalidJson`/`Gone`.
    pub fn send(&self, app: V4Id, data: &str) -> Result<(), V4SendError> {
        self.hub.send_local(self.id, self.serial, app, data)
    }

    /// Leaves the relay now (cascading to its Apps). Leaving twice is harmless.
    pub fn leave(&self) {
        self.hub.leave(self.id, self.serial, "left");
    }
}

impl Drop for V4LocalLink {
    fn drop(&mut self) {
        self.leave();
    }
}

impl V4Inbox {
    /// The next frame; `None` once the controller is off the relay.
    pub async fn recv(&mut self) -> Option<V4Incoming> {
        self.0.recv().await
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Option<V4Incoming> {
        self.0.try_recv().ok()
    }
}
