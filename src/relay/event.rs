//! What the relay tells its owner: events as they happen, and snapshots of who is connected.

use crate::protocol::Code;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// What a connection is, as far as the relay knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Connected but never part of a bind yet.
    Unknown,
    /// A terminal over a socket (the `clientId` side of a bind).
    Terminal,
    /// The DG-LAB App (the `targetId` side of a bind).
    App,
    /// A terminal inside this process (no socket).
    Local,
}

/// One connection, as [`crate::relay::RelayHandle::snapshot`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionInfo {
    /// The id the relay handed out.
    pub id: Uuid,
    /// Terminal, App, local terminal or not yet known.
    pub role: Role,
    /// Remote address; `None` for a local terminal.
    pub remote: Option<SocketAddr>,
    /// When the connection was accepted.
    pub connected_since: SystemTime,
    /// Round trip of the last answered WebSocket ping.
    pub last_rtt: Option<Duration>,
    /// The id this connection is paired with.
    pub paired_with: Option<Uuid>,
}

/// Something that happened on the relay. Sent on a broadcast channel: a subscriber that
/// falls behind misses events (and is told so by `RecvError::Lagged`), it never slows the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RelayEvent {
    /// A socket finished its handshake, or a local terminal joined.
    Connected {
        /// Its new id.
        id: Uuid,
        /// Socket address, `None` for a local terminal.
        remote: Option<SocketAddr>,
        /// `Unknown` for sockets, `Local` for local terminals.
        role: Role,
    },
    /// A connection ended.
    Disconnected {
        /// Its id.
        id: Uuid,
        /// Why, in a few words ("closed", "ping timeout", "too slow", "shutdown").
        reason: &'static str,
    },
    /// Someone asked to bind; `code` is the answer (200 paired, 400, 401, 404).
    BindAttempt {
        /// The terminal id named in the request: peer text, so escaped and cut to
        /// [`MAX_ID_CHARS`](crate::relay::MAX_ID_CHARS) ([`escape_for_log`](crate::relay::escape_for_log)).
        client_id: String,
        /// The App id named in the request, escaped and cut the same way.
        target_id: String,
        /// The relay's answer.
        #[serde(serialize_with = "ser_code")]
        code: Code,
    },
    /// A pair came apart; `break` 209 went to `survivor` if it is still connected.
    Break {
        /// The terminal's id.
        terminal: Uuid,
        /// The App's id.
        app: Uuid,
        /// The member that stays connected, if any.
        survivor: Option<Uuid>,
    },
    /// A `msg` went from one member of a pair to the other.
    Relayed {
        /// Sender.
        from: Uuid,
        /// Recipient.
        to: Uuid,
        /// The `message` field as delivered, escaped and cut to
        /// [`MAX_TEXT_CHARS`](crate::relay::MAX_TEXT_CHARS) for the log: peer text never
        /// reaches a log line raw (a newline in it could forge a line).
        message: Arc<str>,
    },
    /// A frame was refused with a protocol code and delivered nowhere.
    Rejected {
        /// The sender.
        id: Uuid,
        /// The code it was answered with.
        #[serde(serialize_with = "ser_code")]
        code: Code,
        /// Why, for the log.
        reason: String,
    },
    /// A socket answered a WebSocket ping: its round-trip time is now known (also in
    /// [`ConnectionInfo::last_rtt`]).
    RoundTrip {
        /// The connection.
        id: Uuid,
        /// Time from ping to pong.
        #[serde(serialize_with = "ser_millis")]
        rtt: Duration,
    },
    /// A heartbeat round went out to every connection.
    Heartbeat {
        /// How many connections it was queued for.
        sent: usize,
    },
    /// A plain browser request (`GET /` or `GET /check`) got the phone reachability page:
    /// whoever sent it can reach the relay at this address and port.
    Reached {
        /// Who asked.
        from: SocketAddr,
        /// Its `User-Agent`, escaped and cut to [`MAX_ID_CHARS`](crate::relay::MAX_ID_CHARS)
        /// × 2 characters (peer text).
        user_agent: Option<String>,
    },
    /// A plain HTTP request or a failed upgrade was answered with an error status and
    /// closed: 426 for a page request on a WebSocket path, 400 malformed, 405 not GET, 431
    /// head too large. It never became a connection.
    HttpRefused {
        /// Who asked.
        from: SocketAddr,
        /// The status it got.
        status: u16,
        /// The path it asked for (empty when the request was unreadable), escaped and cut
        /// to [`MAX_ID_CHARS`](crate::relay::MAX_ID_CHARS) characters.
        path: String,
    },
}

fn ser_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn ser_code<S: serde::Serializer>(code: &Code, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(code.as_u16())
}
