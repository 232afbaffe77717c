//! Ids, roles, events and snapshots of the V4 relay: relay facts only.

use serde::Serialize;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// A connection's id: 4 random bytes, shown as 8 lowercase hex characters (§4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct V4Id(pub u32);

impl V4Id {
    /// Parses exactly 8 hex characters (either case, as a typed `tid` might be).
    pub fn parse(s: &str) -> Option<V4Id> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(s, 16).ok().map(V4Id)
    }

    /// A random id (from the OS's randomness, through uuid's v4 generator).
    pub(crate) fn random() -> V4Id {
        let b = uuid::Uuid::new_v4().into_bytes();
        V4Id(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl fmt::Display for V4Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl Serialize for V4Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a connection is: decided at the upgrade by the query (`tid`/`targetId` ⇒ App).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum V4Role {
    /// A controller over a socket (dglab-kit, another program).
    Controller,
    /// A controller inside this process ([`crate::relay::v4::V4Handle::join_local`]).
    LocalController,
    /// A DG-LAB 4.x App.
    App,
}

/// Something that happened on the V4 relay. Broadcast: a subscriber that falls behind
/// misses events (`RecvError::Lagged`), it never slows the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum V4Event {
    /// A socket finished its upgrade (or a local controller joined) and got its `hello`.
    Connected {
        /// Its new id.
        id: V4Id,
        /// Its role.
        role: V4Role,
        /// Socket address; `None` for a local controller.
        remote: Option<SocketAddr>,
    },
    /// An App joined a controller (`controller_attached` / `client_attached` went out).
    Attached {
        /// The App.
        app: V4Id,
        /// Its controller.
        controller: V4Id,
    },
    /// An App's attachment ended: it left, or its controller did.
    Detached {
        /// The App.
        app: V4Id,
        /// Its controller.
        controller: V4Id,
    },
    /// An error frame went to `id` (`controller_not_found`, `bad_request`,
    /// `client_not_found`, or our `refused`).
    Error {
        /// Who got it.
        id: V4Id,
        /// Its `code`.
        code: &'static str,
    },
    /// More error frames went to `id` than were reported one by one (at most 5 a
    /// minute per connection); sent at the next window or when it leaves.
    ErrorsNotShown {
        /// Who got them.
        id: V4Id,
        /// How many were not reported.
        count: u64,
    },
    /// A payload went from one peer to the other (only with
    /// [`crate::relay::v4::V4Handle::set_relayed_events`]); as delivered, after the guard.
    Relayed {
        /// Sender.
        from: V4Id,
        /// Recipient.
        to: V4Id,
        /// The `data`, escaped and cut to [`MAX_TEXT_CHARS`](crate::relay::MAX_TEXT_CHARS)
        /// for a log line.
        data: std::sync::Arc<str>,
    },
    /// A connection ended.
    Closed {
        /// Its id.
        id: V4Id,
        /// Its role.
        role: V4Role,
        /// Why, in a few words ("closed", "controller_disconnected", "idle_timeout",
        /// "controller_not_found", "ping timeout", "too slow", "frame too large",
        /// "shutdown", "left").
        reason: &'static str,
    },
}

/// One App, as [`crate::relay::v4::V4Handle::snapshot`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct V4AppInfo {
    /// Its id.
    pub id: V4Id,
    /// Its socket address.
    pub remote: Option<SocketAddr>,
    /// When it connected.
    pub connected_since: SystemTime,
    /// Round trip of its last answered WebSocket ping.
    pub last_rtt: Option<Duration>,
}

/// One controller and its Apps, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct V4ControllerInfo {
    /// Its id (the `tid` in its pairing link).
    pub id: V4Id,
    /// Socket controller or in-process.
    pub role: V4Role,
    /// Its socket address; `None` in-process.
    pub remote: Option<SocketAddr>,
    /// When it connected.
    pub connected_since: SystemTime,
    /// Round trip of its last answered WebSocket ping.
    pub last_rtt: Option<Duration>,
    /// Its Apps, in the order they attached.
    pub apps: Vec<V4AppInfo>,
}
