//! The protocol inspector: a copy of every frame the relay reads or writes, for whoever
//! watches ([`crate::relay::RelayHandle::inspect`]).
//!
//! Off the hot path by construction:
//! - nobody watching costs one relaxed atomic load per frame ([`Tap::active`]); no record
//!   is built, no text copied;
//! - a watcher gets records through a bounded broadcast channel: one that falls behind
//!   loses the oldest ones (counted in [`InspectStream::lost`]), it never slows the relay;
//! - what a frame means ([`crate::protocol::describe`]) is worked out by the watcher when
//!   it takes the record, not by the relay when it copies it.

use super::event::Role;
use crate::protocol::describe::{describe, Meaning};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use uuid::Uuid;

/// Records buffered per watcher before it starts losing them.
const CAPACITY: usize = 1024;

/// Longest raw text kept in a record; a frame is at most 1950 characters, so only junk a
/// peer sends is ever cut.
pub const MAX_RAW_CHARS: usize = 2048;

/// Which way a frame went, as the relay saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Read from the connection (or handed over by a local terminal).
    In,
    /// Queued for the connection.
    Out,
    /// A plain HTTP request or upgrade the relay answered with an error status and closed;
    /// it never became a connection (no id).
    Refused,
}

/// What the relay copies, before any interpretation.
#[derive(Debug)]
pub(crate) struct RawRecord {
    time_ms: u64,
    connection: Option<Uuid>,
    role: Role,
    direction: Direction,
    raw: String,
    /// For [`Direction::Refused`]: the HTTP status and path instead of a frame.
    http: Option<(u16, String)>,
}

/// One frame as a watcher gets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InspectRecord {
    /// Milliseconds since the Unix epoch when the relay saw it.
    pub time_ms: u64,
    /// The connection it was read from or queued for; `None` for a refused HTTP request.
    pub connection: Option<Uuid>,
    /// The connection's role at that moment (a bind changes it).
    pub role: Role,
    /// In, out or refused.
    pub direction: Direction,
    /// The JSON text as on the wire (cut at [`MAX_RAW_CHARS`]); for a refused HTTP request,
    /// its request line.
    pub raw: String,
    /// What it means, as a kind and parameters (a window words them in its language).
    pub meaning: Meaning,
    /// The meaning in English, for the command line.
    pub text: String,
}

/// The relay's side of the inspector: shared by the registry and the listeners.
#[derive(Debug)]
pub(crate) struct Tap {
    /// Shared with every stream (not the tap itself: a stream must not keep the sender
    /// alive, or it would never see the relay end).
    watchers: Arc<AtomicUsize>,
    made: AtomicU64,
    tx: broadcast::Sender<Arc<RawRecord>>,
}

impl Default for Tap {
    fn default() -> Self {
        Tap {
            watchers: Arc::default(),
            made: AtomicU64::new(0),
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Tap {
    /// Whether anyone watches: check this before building anything.
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.watchers.load(Ordering::Relaxed) > 0
    }

    /// Records built since the relay started.
    pub(crate) fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Copies one frame for the watchers (callers check [`Tap::active`] first).
    pub(crate) fn frame(&self, connection: Uuid, role: Role, direction: Direction, raw: &str) {
        self.send(RawRecord {
            time_ms: now_ms(),
            connection: Some(connection),
            role,
            direction,
            raw: cut(raw),
            http: None,
        });
    }

    /// Records a refused HTTP request (`request_line` is peer text: escaped by the caller).
    pub(crate) fn refused(&self, status: u16, path: String, request_line: String) {
        self.send(RawRecord {
            time_ms: now_ms(),
            connection: None,
            role: Role::Unknown,
            direction: Direction::Refused,
            raw: request_line,
            http: Some((status, path)),
        });
    }

    fn send(&self, record: RawRecord) {
        self.made.fetch_add(1, Ordering::Relaxed);
        // No receiver left (a watcher dropped just now) is fine.
        let _ = self.tx.send(Arc::new(record));
    }

    pub(crate) fn watch(&self) -> InspectStream {
        // Subscribe before counting, so no record built for this watcher is missed.
        let rx = self.tx.subscribe();
        self.watchers.fetch_add(1, Ordering::Relaxed);
        InspectStream {
            rx,
            lost: 0,
            watchers: self.watchers.clone(),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn cut(raw: &str) -> String {
    match raw.char_indices().nth(MAX_RAW_CHARS) {
        Some((i, _)) => format!("{}…(+{} bytes)", &raw[..i], raw.len() - i),
        None => raw.to_owned(),
    }
}

/// A live feed of the relay's frames, from the moment it was made. Bounded: a watcher
/// that does not keep up loses the oldest records ([`InspectStream::lost`] counts them).
/// The relay stops copying frames when the last stream is dropped.
#[derive(Debug)]
pub struct InspectStream {
    rx: broadcast::Receiver<Arc<RawRecord>>,
    lost: u64,
    watchers: Arc<AtomicUsize>,
}

impl Drop for InspectStream {
    fn drop(&mut self) {
        self.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl InspectStream {
    /// The next record; `None` once the relay is gone (every handle dropped).
    pub async fn recv(&mut self) -> Option<InspectRecord> {
        loop {
            match self.rx.recv().await {
                Ok(raw) => return Some(interpret(&raw)),
                Err(RecvError::Lagged(n)) => self.lost += n,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The next record if one is waiting.
    pub fn try_recv(&mut self) -> Option<InspectRecord> {
        loop {
            match self.rx.try_recv() {
                Ok(raw) => return Some(interpret(&raw)),
                Err(TryRecvError::Lagged(n)) => self.lost += n,
                Err(_) => return None,
            }
        }
    }

    /// Records this watcher lost for falling behind, so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }
}

fn interpret(raw: &RawRecord) -> InspectRecord {
    let meaning = match &raw.http {
        Some((status, path)) => Meaning::HttpRefused {
            status: *status,
            path: path.clone(),
        },
        None => describe(&raw.raw),
    };
    InspectRecord {
        time_ms: raw.time_ms,
        connection: raw.connection,
        role: raw.role,
        direction: raw.direction,
        raw: raw.raw.clone(),
        text: meaning.to_string(),
        meaning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_raw_text_is_cut_with_a_note() {
        let s = "x".repeat(MAX_RAW_CHARS + 10);
        assert_eq!(
            cut(&s),
            format!("{}…(+10 bytes)", "x".repeat(MAX_RAW_CHARS))
        );
        assert_eq!(cut("short"), "short");
    }

    #[tokio::test]
    async fn a_slow_watcher_loses_records_and_counts_them() {
        let tap = Arc::new(Tap::default());
        assert!(!tap.active());
        let mut w = tap.watch();
        assert!(tap.active());
        for _ in 0..CAPACITY + 5 {
            tap.frame(Uuid::nil(), Role::App, Direction::In, "{}");
        }
        let mut got = 0;
        while w.try_recv().is_some() {
            got += 1;
        }
        assert_eq!(got, CAPACITY);
        assert_eq!(w.lost(), 5);
        drop(w);
        assert!(!tap.active());
    }
}
