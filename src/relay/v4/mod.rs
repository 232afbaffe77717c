//! The V4 relay, for the DG-LAB App 4.x: one controller drives N Apps (spec
//! docs/v4-protocol.md §4, checklist §7). It runs beside the SOCKET v2 relay on its own
//! listener (default port 9998, as the official relay) and shares its hardening:
//! connection limits and the handshake deadline ([`crate::relay::RelayConfig`]), bounded
//! outbound queues that drop a stuck reader as "too slow", and log lines escaped and
//! written off the socket tasks.
//!
//! - `listener`: admission, the upgrade at `/`, `/v4`, `/v4/`; the role by `?tid=`
//!   (or `?targetId=`);
//! - `conn`: one socket's task; `hub`: the routing table and every rule of §4, with
//!   `hub/route.rs` for `message` routing and the error events;
//! - `frames`: the relay's frames as text; `event`: ids, events, snapshots;
//! - `local`: the in-process controller seam ([`V4LocalLink`]); `guard`: the policy
//!   seam for payloads bound for Apps ([`V4Guard`]).
//!
//! The rules, in short: `hello` first with an 8-hex id; an App naming a live controller
//! gets `controller_attached` and its controller `client_attached`, otherwise `error
//! controller_not_found` and close 4001; `message` goes controller → App with `clientId`
//! removed and App → controller with it added (`bad_request` / `client_not_found` on bad
//! controller frames); `ping` gets `pong{ts}` from anyone; `heartbeat` every 30 s, native
//! pings every 10 s and termination after 3 unanswered; a controller alone for 300 s gets
//! `idle_timeout` and close 4002; a controller leaving sends its Apps
//! `controller_disconnected` and close 4000; frames above 1 MiB close with 1009; anything
//! else is ignored. The payload is never parsed.

mod config;
mod conn;
mod event;
mod frames;
mod guard;
mod hub;
mod listener;
mod local;

pub use config::{V4Config, MAX_FRAME};
pub use event::{V4AppInfo, V4ControllerInfo, V4Event, V4Id, V4Role};
pub use guard::{V4Guard, V4Verdict};
pub use hub::V4SendError;
pub use local::{V4Inbox, V4Incoming, V4LocalLink};

use hub::Hub;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Events buffered per subscriber before it starts missing them.
const EVENT_CAPACITY: usize = 1024;

/// A running V4 relay. Cheap to clone; every clone controls the same relay.
#[derive(Debug, Clone)]
pub struct V4Handle {
    local_addr: SocketAddr,
    local_addrs: Vec<SocketAddr>,
    hub: Hub,
    config: V4Config,
    events: broadcast::Sender<V4Event>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// Starts a V4 relay on `listener`. Must be called inside a Tokio runtime.
///
/// # Errors
/// Only if the listener's local address cannot be read.
pub fn start(listener: TcpListener, config: V4Config) -> std::io::Result<V4Handle> {
    start_many(vec![listener], config)
}

/// [`start`] on several listeners (IPv4 and IPv6, several interfaces): one relay, one
/// routing table, and the connection limits hold across all of them.
///
/// # Errors
/// If `listeners` is empty or a listener's local address cannot be read.
pub fn start_many(listeners: Vec<TcpListener>, config: V4Config) -> std::io::Result<V4Handle> {
    let local_addrs = listeners
        .iter()
        .map(TcpListener::local_addr)
        .collect::<std::io::Result<Vec<_>>>()?;
    let Some(&local_addr) = local_addrs.first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a V4 relay needs at least one listener",
        ));
    };
    let (events, _) = broadcast::channel(EVENT_CAPACITY);
    let hub = Hub::new(events.clone());
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    tracker.spawn(keepalive(hub.clone(), config.clone(), shutdown.clone()));
    let counts = crate::relay::admission::SharedCounts::default();
    for listener in listeners {
        tracker.spawn(
            listener::Listener {
                listener,
                counts: counts.clone(),
                hub: hub.clone(),
                config: config.clone(),
                tracker: tracker.clone(),
                shutdown: shutdown.clone(),
            }
            .run(),
        );
    }
    Ok(V4Handle {
        local_addr,
        local_addrs,
        hub,
        config,
        events,
        shutdown,
        tracker,
    })
}

/// The heartbeat, ping and idle rounds for every connection, from one timer task.
async fn keepalive(hub: Hub, config: V4Config, shutdown: CancellationToken) {
    use tokio::time::{interval_at, Instant, MissedTickBehavior};
    let never = Duration::from_secs(365 * 24 * 3600);
    let every = |d: Option<Duration>| {
        let d = d.unwrap_or(never);
        let mut i = interval_at(Instant::now() + d, d);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    };
    let mut hb = every(config.heartbeat_interval);
    let mut ping = every(config.ping_interval);
    // The idle timer is checked at a tenth of its length (at least every second), so a
    // controller goes at most 10 % late.
    let idle_check = config
        .idle_timeout
        .map(|d| (d / 10).clamp(Duration::from_millis(10), Duration::from_secs(1)));
    let mut idle = every(idle_check);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = hb.tick(), if config.heartbeat_interval.is_some() => hub.heartbeat_round(),
            _ = ping.tick(), if config.ping_interval.is_some() => hub.ping_round(config.max_missed_pings),
            _ = idle.tick(), if config.idle_timeout.is_some() => {
                if let Some(limit) = config.idle_timeout {
                    hub.idle_round(limit);
                }
            }
        }
    }
}

impl V4Handle {
    /// The address the relay listens on (the first, with several listeners).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every address the relay listens on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<V4Event> {
        self.events.subscribe()
    }

    /// Whether each routed payload is also sent to subscribers as [`V4Event::Relayed`]
    /// (off by default: the protocol inspector, or a log at debug, turns it on).
    pub fn set_relayed_events(&self, on: bool) {
        self.hub.set_relayed_events(on);
    }

    /// Every controller (socket or in-process) and its Apps right now.
    pub fn snapshot(&self) -> Vec<V4ControllerInfo> {
        self.hub.snapshot()
    }

    /// Number of connections (sockets and in-process controllers).
    pub fn connection_count(&self) -> usize {
        self.hub.len()
    }

    /// Adds an in-process controller: its Apps see exactly a socket controller's frames.
    /// It sends through the returned link and reads the inbox (bounded by the config's
    /// `outbound_queue`; a controller that lets it fill is dropped as "too slow").
    pub fn join_local(&self) -> (V4LocalLink, V4Inbox) {
        V4LocalLink::join(&self.hub, self.config.limits.outbound_queue)
    }

    /// Sets the policy every payload bound for an App passes (see [`V4Guard`]); `None`
    /// relays everything.
    pub fn set_guard(&self, guard: Option<Arc<dyn V4Guard>>) {
        self.hub.set_guard(guard);
    }

    /// Sends every attached App (or those in `only`) the payloads `payloads(app)` gives,
    /// as if from its controller, ahead of everything queued for it and never refused for
    /// a full queue; with `purge`, what was queued is dropped. For the emergency stop
    /// (`device.op.clear` and strength 0 per slot, which only the policy knows). `payloads`
    /// runs under the relay's lock: it must return at once. Returns the Apps reached.
    pub fn to_apps_first(
        &self,
        only: Option<&[V4Id]>,
        payloads: &dyn Fn(V4Id) -> Vec<String>,
        purge: bool,
    ) -> Vec<V4Id> {
        self.hub.to_apps_first(only, payloads, purge)
    }

    /// Whether [`V4Handle::shutdown`] has begun.
    pub fn is_shut_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Closes every socket (what is queued, then close 1001) and waits for every task
    /// of the relay to end.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
