//! The relay server: pairs terminals with Apps and passes their messages.
//!
//! [`start`] takes a bound listener and returns a [`RelayHandle`]. The layers, each talking
//! only to the next: socket ↔ text in `peer`, text ↔ [`crate::protocol::Envelope`] in the
//! codec, envelope ↔ routing in `registry`. It knows nothing of terminals or safety: an
//! in-process endpoint joins through the [`LocalEndpoint`] seam ([`local`]), and
//! [`RelayEvent`] carries relay facts only. The rules (docs/protocol.md and ours):
//!
//! - every connection gets a random UUIDv4 in a `bind`/`targetId` greeting; any upgrade path
//!   is accepted, since the App connects to `ws://host:port/<terminal id>`;
//! - `bind` must come from the App (the sender owns `targetId`); 200 to both, or 400/401 to
//!   the requester only; naming ids the sender does not own is 404;
//! - `msg` goes to the other member of the sender's pair and never back to the sender;
//!   402 when not paired, 405 when the frame the peer would get exceeds 1950 characters;
//! - what is not a JSON object is 403; a JSON object that is no valid frame is 404 (ids not
//!   the sender's), 402 (not paired) or `error` `406-<field> is invalid`; the connection
//!   carries on either way;
//! - a disconnect sends `break` 209 to the survivor, which stays connected and may pair again;
//! - heartbeats and WebSocket pings run from one timer task for all connections;
//! - nothing a peer sends is lost or reordered: a sender that fills a crowded queue is not
//!   read until it drains (backpressure), so a reader at full speed is never dropped for a
//!   burst; a peer that takes nothing for `ping_timeout` (a write batch stuck) or answers no
//!   ping is disconnected, so it never stalls anyone else or a shutdown;
//! - connections are admitted by a global cap, a per-address limit and a reserve for
//!   addresses holding little (see [`RelayConfig`]); plain HTTP gets a status line;
//! - peer text reaches events and log lines escaped and cut short; the relay's own lines
//!   are written by a logging thread, never under a lock or from a socket task.

mod admission;
mod config;
mod event;
pub mod guard;
mod inspect;
mod listener;
pub mod local;
mod logline;
mod peer;
mod queue;
mod registry;
#[cfg(test)]
mod tests;
// The DG-LAB App 4.x relay, beside this one (its own listener; shares config, queue, logline).
pub mod v4;

pub use config::{RelayConfig, RESERVE_SHARE};
pub use event::{ConnectionInfo, RelayEvent, Role};
pub use guard::{AppGuard, Verdict};
pub use inspect::{Direction, InspectRecord, InspectStream, MAX_RAW_CHARS as MAX_INSPECT_CHARS};
pub use local::{Delivered, LocalEndpoint, LocalLink, SendError};
pub use logline::{escape as escape_for_log, MAX_ID_CHARS, MAX_TEXT_CHARS};

use registry::Registry;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Events buffered per subscriber before it starts missing them.
const EVENT_CAPACITY: usize = 4096;

/// A running relay. Cheap to clone; every clone controls the same relay.
#[derive(Debug, Clone)]
pub struct RelayHandle {
    local_addr: SocketAddr,
    local_addrs: Vec<SocketAddr>,
    registry: Registry,
    events: broadcast::Sender<RelayEvent>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// Starts a relay on `listener`. Must be called inside a Tokio runtime.
///
/// # Errors
/// Only if the listener's local address cannot be read.
pub fn start(listener: TcpListener, config: RelayConfig) -> std::io::Result<RelayHandle> {
    start_many(vec![listener], config)
}

/// [`start`] on several listeners at once (IPv4 and IPv6, several interfaces): one relay,
/// one registry, and the connection limits hold across all of them.
///
/// # Errors
/// If `listeners` is empty or a listener's local address cannot be read.
pub fn start_many(
    listeners: Vec<TcpListener>,
    config: RelayConfig,
) -> std::io::Result<RelayHandle> {
    let local_addrs = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<std::io::Result<Vec<_>>>()?;
    let Some(&local_addr) = local_addrs.first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a relay needs at least one listener",
        ));
    };
    if config.raise_fd_limit {
        raise_fd_limit(config.max_connections);
    }
    let (events, _) = broadcast::channel(EVENT_CAPACITY);
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let registry = Registry::new(
        events.clone(),
        tracker.clone(),
        shutdown.clone(),
        config.ping_interval.is_some(),
    );
    tracker.spawn(keepalive(
        registry.clone(),
        config.clone(),
        shutdown.clone(),
    ));
    let counts = admission::SharedCounts::default();
    for listener in listeners {
        tracker.spawn(
            listener::Listener {
                listener,
                counts: counts.clone(),
                registry: registry.clone(),
                config: config.clone(),
                tracker: tracker.clone(),
                shutdown: shutdown.clone(),
            }
            .run(),
        );
    }
    Ok(RelayHandle {
        local_addr,
        local_addrs,
        registry,
        events,
        shutdown,
        tracker,
    })
}

/// Raises the soft open-files limit to the hard one (each socket is a descriptor; the usual
/// soft limit of 1024 would cap the relay far below its `max_connections`), and says so in
/// the log if the result is still short of what `max_connections` needs.
#[cfg(unix)]
fn raise_fd_limit(max_connections: usize) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let old = getrlimit(Resource::Nofile);
    let mut soft = old.current;
    let raisable = match (old.current, old.maximum) {
        (Some(cur), Some(max)) => cur < max,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if raisable {
        // Unlimited hard limits exist (macOS); the kernel's own cap then applies, so try a
        // generous finite value instead.
        let want = old.maximum.unwrap_or(1 << 20);
        let mut attempt = Rlimit {
            current: Some(want),
            maximum: old.maximum,
        };
        if setrlimit(Resource::Nofile, attempt).is_err() {
            attempt.current = Some(want.min(10_240));
            let _ = setrlimit(Resource::Nofile, attempt);
        }
        soft = getrlimit(Resource::Nofile).current;
    }
    let needed = max_connections as u64 + 64;
    let level = if soft.is_some_and(|s| s < needed) {
        log::Level::Warn
    } else {
        log::Level::Debug
    };
    if logline::enabled(level) {
        let show = |v: Option<u64>| v.map_or("unlimited".to_owned(), |v| v.to_string());
        logline::line(
            level,
            format!(
                "open-files limit {} (was {}, hard {}); max_connections {max_connections} needs about {needed}",
                show(soft),
                show(old.current),
                show(old.maximum)
            ),
        );
    }
}

#[cfg(not(unix))]
fn raise_fd_limit(_max_connections: usize) {}

/// Heartbeat and ping rounds for every connection, from one timer task.
async fn keepalive(registry: Registry, config: RelayConfig, shutdown: CancellationToken) {
    use tokio::time::{interval_at, Instant, MissedTickBehavior};
    let never = std::time::Duration::from_secs(365 * 24 * 3600);
    let hb_every = config.heartbeat_interval.unwrap_or(never);
    let ping_every = config.ping_interval.unwrap_or(never);
    let mut hb = interval_at(Instant::now() + hb_every, hb_every);
    let mut ping = interval_at(Instant::now() + ping_every, ping_every);
    hb.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = hb.tick(), if config.heartbeat_interval.is_some() => registry.heartbeat_round(),
            _ = ping.tick(), if config.ping_interval.is_some() => registry.ping_round(config.ping_timeout),
        }
    }
}

impl RelayHandle {
    /// The address the relay listens on (the first, with several listeners).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every address the relay listens on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RelayEvent> {
        self.events.subscribe()
    }

    /// Whether each relayed message is also sent to subscribers as
    /// [`RelayEvent::Relayed`] (on by default). A subscriber that only logs connections
    /// turns it off: at 10 messages a second per pair, those events (an escaped copy, a
    /// broadcast, a wake-up of the subscriber's thread) cost more CPU than relaying.
    pub fn set_relayed_events(&self, on: bool) {
        self.registry.set_relayed_events(on);
    }

    /// A live copy of every frame the relay reads or writes from now on, with what it
    /// means (the protocol inspector). Nothing is copied while no stream is alive; a
    /// watcher that falls behind loses records (counted), it never slows the relay.
    pub fn inspect(&self) -> InspectStream {
        self.registry.inspect()
    }

    /// How many inspector records the relay has built since it started (0 as long as
    /// nobody ever watched).
    pub fn inspected_records(&self) -> u64 {
        self.registry.inspected()
    }

    /// Every connection right now, oldest first.
    pub fn snapshot(&self) -> Vec<ConnectionInfo> {
        self.registry.snapshot()
    }

    /// Number of connections (sockets and local terminals).
    pub fn connection_count(&self) -> usize {
        self.registry.len()
    }

    /// Adds an in-process endpoint (a local terminal); frames for it go to `endpoint`, and
    /// it speaks and leaves through the returned link. Several may coexist (one per phone).
    pub fn join_local(&self, endpoint: Box<dyn LocalEndpoint>) -> LocalLink {
        LocalLink::join(&self.registry, endpoint)
    }

    /// Whether [`RelayHandle::shutdown`] has begun.
    pub fn is_shut_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Sets the relay-wide policy every frame bound for an App passes (see [`AppGuard`]);
    /// `None` relays everything as before.
    pub fn set_app_guard(&self, guard: Option<std::sync::Arc<dyn AppGuard>>) {
        self.registry.set_guard(guard);
    }

    /// Sends `messages` to every paired App on the relay, as if from its terminal, ahead of
    /// everything queued for it (which is dropped) and never refused for a full queue; the
    /// terminals' `clientMsg` repeats end. For an emergency stop. Returns the Apps reached.
    pub fn to_every_app_first(&self, messages: &[&str]) -> Vec<uuid::Uuid> {
        self.registry.to_apps_first(None, messages)
    }

    /// [`RelayHandle::to_every_app_first`] for the given Apps only (those still paired).
    pub fn to_apps_first(&self, apps: &[uuid::Uuid], messages: &[&str]) -> Vec<uuid::Uuid> {
        self.registry.to_apps_first(Some(apps), messages)
    }

    /// Closes every socket and waits for every task of the relay to end.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
