//! The V4 routing table: who is connected, which Apps belong to which controller, and
//! every rule of spec §4 that is not about the socket itself.
//!
//! Like the SOCKET v2 registry, every method is synchronous, holds the lock for a few
//! lookups and never across an `.await`; frames are queued on the recipients' outboxes,
//! events are sent after the lock is released. Payloads (`data`) are never parsed: they
//! are located as raw JSON and copied into the outgoing frame.

use super::event::{V4AppInfo, V4ControllerInfo, V4Event, V4Id, V4Role};
use super::frames;
use super::guard::V4Guard;
use super::local::V4Incoming;
use crate::relay::{logline, queue};
use route::{from_app, from_socket_controller, to_app, ErrorLog};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, mpsc};
// tokio's clock, so the timers follow a paused clock in tests.
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

mod route;

/// Where frames for one connection go.
#[derive(Debug)]
pub(crate) enum Outbox {
    /// A socket's writer.
    Socket(queue::Sender),
    /// An in-process controller's bounded inbox.
    Local(mpsc::Sender<V4Incoming>),
}

#[derive(Debug)]
struct Conn {
    /// Tells this connection from a later one that drew the same id.
    serial: u64,
    role: V4Role,
    remote: Option<SocketAddr>,
    since: SystemTime,
    outbox: Outbox,
    /// Ends the socket task at once, without a close frame (stuck, silent).
    cancel: CancellationToken,
    /// An App's controller.
    controller: Option<V4Id>,
    /// A controller's Apps, in the order they attached.
    apps: Vec<V4Id>,
    /// A socket controller with no App: since when (the idle timer).
    idle_since: Option<Instant>,
    /// The unanswered WebSocket ping, if one is out, and how many in a row went unanswered.
    ping_sent: Option<Instant>,
    missed: u32,
    rtt: Option<Duration>,
    /// Its error frames, for rate-limited events.
    errors: ErrorLog,
}

#[derive(Debug, Default)]
struct State {
    conns: HashMap<V4Id, Conn>,
    next_serial: u64,
    guard: Option<Arc<dyn V4Guard>>,
    /// Whether routed payloads become [`V4Event::Relayed`] (off unless asked for: each
    /// costs an escaped copy).
    relayed: bool,
}

/// How a connection leaves the table.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// Its own task saw it end (closed, read error, write failed): nothing more to send.
    Gone,
    /// The relay ends it: `notice` (a whole frame), then a close frame with this code.
    Close(Option<&'static str>, u16),
    /// The relay drops it without a close frame (no pong, too slow).
    Terminate,
}

/// Shared routing table; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<V4Event>,
}

/// Whether a frame was delivered.
enum Delivery {
    Sent,
    /// Sent, and the recipient's queue is now crowded: the source should pause.
    Crowded(queue::Space),
    Gone,
    /// Its queue is full: it is stuck (and will be dropped).
    Stuck,
}

/// The outer envelope of a client frame: only what routing needs; `data` stays raw.
#[derive(Deserialize)]
struct Inbound<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "clientId", default, borrow)]
    client_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// Why a payload did not reach an App.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V4SendError {
    /// No such App, or it is attached to another controller (`client_not_found`).
    ClientNotFound,
    /// `data` is not JSON.
    InvalidJson,
    /// The guard refused it; with the payload that was answered in the App's name.
    Refused(Option<String>),
    /// This controller has left the relay.
    Gone,
}

impl std::fmt::Display for V4SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            V4SendError::ClientNotFound => "no such App attached to this controller",
            V4SendError::InvalidJson => "the payload is not JSON",
            V4SendError::Refused(_) => "refused by the safety policy",
            V4SendError::Gone => "the controller has left the relay",
        })
    }
}

impl std::error::Error for V4SendError {}

fn log_debug(text: impl FnOnce() -> String) {
    if logline::enabled(log::Level::Debug) {
        logline::line(log::Level::Debug, text());
    }
}

impl Hub {
    pub(crate) fn new(events: broadcast::Sender<V4Event>) -> Self {
        Hub {
            state: Arc::default(),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every method finishes its updates before anything can panic: a poisoned lock
        // still holds a consistent table.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, evs: Vec<V4Event>) {
        for ev in evs {
            let _ = self.events.send(ev);
        }
    }

    pub(crate) fn set_guard(&self, guard: Option<Arc<dyn V4Guard>>) {
        self.lock().guard = guard;
    }

    pub(crate) fn set_relayed_events(&self, on: bool) {
        self.lock().relayed = on;
    }

    /// A new socket after its upgrade: queues `hello`, then joins it to its controller
    /// (an App) or starts its idle timer (a controller). An App naming no live controller
    /// gets `hello`, `error controller_not_found` and close 4001, as the official relay
    /// does. Returns its id and serial.
    pub(crate) fn join_socket(
        &self,
        tx: queue::Sender,
        remote: Option<SocketAddr>,
        tid: Option<&str>,
        cancel: CancellationToken,
    ) -> (V4Id, u64) {
        let role = if tid.is_some() {
            V4Role::App
        } else {
            V4Role::Controller
        };
        let mut evs = vec![];
        let (id, serial) = {
            let mut st = self.lock();
            let (id, serial) = insert(&mut st, role, remote, Outbox::Socket(tx), cancel);
            evs.push(V4Event::Connected { id, role, remote });
            let _ = deliver_text(&mut st, id, frames::hello(id));
            if let Some(tid) = tid {
                let controller = V4Id::parse(tid)
                    .filter(|c| st.conns.get(c).is_some_and(|e| e.role != V4Role::App));
                match controller {
                    Some(c) => attach(&mut st, id, c, &mut evs),
                    None => {
                        let _ = deliver_text(
                            &mut st,
                            id,
                            frames::error(frames::CONTROLLER_NOT_FOUND, None, None),
                        );
                        evs.push(V4Event::Error {
                            id,
                            code: frames::CONTROLLER_NOT_FOUND,
                        });
                        remove(
                            &mut st,
                            id,
                            frames::CONTROLLER_NOT_FOUND,
                            Ending::Close(None, 4001),
                            &mut evs,
                        );
                    }
                }
            }
            (id, serial)
        };
        self.emit(evs);
        (id, serial)
    }

    /// An in-process controller: no `hello` (it learns its id from the link), no idle
    /// timer, no pings.
    pub(crate) fn join_local(&self, inbox: mpsc::Sender<V4Incoming>) -> (V4Id, u64) {
        let mut evs = vec![];
        let joined = {
            let mut st = self.lock();
            let role = V4Role::LocalController;
            let joined = insert(
                &mut st,
                role,
                None,
                Outbox::Local(inbox),
                CancellationToken::new(),
            );
            if let Some(c) = st.conns.get_mut(&joined.0) {
                c.idle_since = None;
            }
            evs.push(V4Event::Connected {
                id: joined.0,
                role,
                remote: None,
            });
            joined
        };
        self.emit(evs);
        joined
    }

    /// The connection `id` (this `serial` of it) ended on its own side; cascades per §4.6.
    pub(crate) fn leave(&self, id: V4Id, serial: u64, reason: &'static str) {
        let mut evs = vec![];
        {
            let mut st = self.lock();
            if st.conns.get(&id).is_some_and(|c| c.serial == serial) {
                remove(&mut st, id, reason, Ending::Gone, &mut evs);
            }
        }
        self.emit(evs);
    }

    /// A WebSocket pong: the ping is answered.
    pub(crate) fn pong(&self, id: V4Id, serial: u64) {
        let mut st = self.lock();
        if let Some(c) = st.conns.get_mut(&id).filter(|c| c.serial == serial) {
            if let Some(sent) = c.ping_sent.take() {
                c.rtt = Some(sent.elapsed());
            }
            c.missed = 0;
        }
    }

    /// One text frame from a socket. `Some(space)` when a queue it filled is crowded:
    /// the caller stops reading this socket until there is room.
    pub(crate) fn handle_text(&self, id: V4Id, text: &str) -> Option<queue::Space> {
        // Only a JSON object is a frame; an array would also fill the struct below.
        let parsed = if text.trim_start().starts_with('{') {
            serde_json::from_str::<Inbound<'_>>(text).ok()
        } else {
            None
        };
        let Some(frame) = parsed else {
            log_debug(|| format!("V4 {id}: ignored a frame that is no JSON object"));
            return None;
        };
        let mut evs = vec![];
        let space = {
            let mut st = self.lock();
            let role = st.conns.get(&id).map(|c| c.role)?;
            match frame.kind.as_deref() {
                Some("ping") => outcome(
                    deliver_text(&mut st, id, frames::pong()),
                    &mut st,
                    id,
                    &mut evs,
                ),
                Some("pong") => None,
                Some("message") if role == V4Role::App => {
                    let data = frame.data.map_or("null", RawValue::get);
                    from_app(&mut st, id, data, &mut evs)
                }
                Some("message") => {
                    let data = frame.data.map_or("null", RawValue::get);
                    from_socket_controller(&mut st, id, frame.client_id, data, &mut evs)
                }
                other => {
                    let kind = other.map(|k| logline::escape(k, logline::MAX_ID_CHARS));
                    log_debug(|| format!("V4 {id}: ignored a frame of type {kind:?}"));
                    None
                }
            }
        };
        self.emit(evs);
        space
    }

    /// A payload from an in-process controller to one of its Apps.
    pub(crate) fn send_local(
        &self,
        controller: V4Id,
        serial: u64,
        app: V4Id,
        data: &str,
    ) -> Result<(), V4SendError> {
        if serde_json::from_str::<&RawValue>(data).is_err() {
            return Err(V4SendError::InvalidJson);
        }
        let mut evs = vec![];
        let r = {
            let mut st = self.lock();
            if st.conns.get(&controller).is_none_or(|c| c.serial != serial) {
                return Err(V4SendError::Gone);
            }
            to_app(&mut st, controller, app, data, &mut evs).map(|_| ())
        };
        self.emit(evs);
        r
    }

    /// Sends each App (every one, or those in `only`) the payloads `payloads` gives it, as
    /// if from its controller, on the control lane: ahead of everything queued for it, and
    /// with `purge` dropping what is queued (a stop: nothing queued before it may follow).
    /// `payloads` runs under the table's lock, so it must return at once. Returns the Apps
    /// reached.
    pub(crate) fn to_apps_first(
        &self,
        only: Option<&[V4Id]>,
        payloads: &dyn Fn(V4Id) -> Vec<String>,
        purge: bool,
    ) -> Vec<V4Id> {
        let st = self.lock();
        let mut reached = vec![];
        for (id, c) in &st.conns {
            if c.role != V4Role::App || c.controller.is_none() {
                continue;
            }
            if only.is_some_and(|o| !o.contains(id)) {
                continue;
            }
            let Outbox::Socket(tx) = &c.outbox else {
                continue;
            };
            let texts: Vec<Message> = payloads(*id)
                .iter()
                .map(|p| Message::text(frames::to_app(p)))
                .collect();
            if texts.is_empty() {
                continue;
            }
            if tx.push_urgent(texts, purge).is_ok() {
                reached.push(*id);
            }
        }
        reached.sort();
        reached
    }

    /// The Apps of a controller, in the order they attached.
    pub(crate) fn apps_of(&self, controller: V4Id) -> Vec<V4Id> {
        self.lock()
            .conns
            .get(&controller)
            .map(|c| c.apps.clone())
            .unwrap_or_default()
    }

    /// `heartbeat` to every socket.
    pub(crate) fn heartbeat_round(&self) {
        let mut evs = vec![];
        {
            let mut st = self.lock();
            let ids: Vec<V4Id> = st
                .conns
                .iter()
                .filter(|(_, c)| matches!(c.outbox, Outbox::Socket(_)))
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                let d = deliver_text(&mut st, id, frames::HEARTBEAT.to_owned());
                let _ = outcome(d, &mut st, id, &mut evs);
            }
        }
        self.emit(evs);
    }

    /// One native ping round: a socket that answered none of the last `max_missed`
    /// pings and sent nothing since is terminated; the others are pinged.
    pub(crate) fn ping_round(&self, max_missed: u32) {
        let now = Instant::now();
        let mut evs = vec![];
        {
            let mut st = self.lock();
            let mut silent = vec![];
            for (id, c) in st.conns.iter_mut() {
                let Outbox::Socket(tx) = &c.outbox else {
                    continue;
                };
                match c.ping_sent {
                    // Not while the relay itself is not reading the socket: its pong waits
                    // behind frames not read yet (backpressure), silence proves nothing.
                    Some(sent) if !tx.is_paused() && tx.heard_at() < sent => c.missed += 1,
                    _ => c.missed = 0,
                }
                if c.missed >= max_missed.max(1) {
                    silent.push(*id);
                } else if tx.try_send_first(Message::Ping(Default::default())).is_ok() {
                    c.ping_sent = Some(now);
                }
            }
            for id in silent {
                remove(&mut st, id, "ping timeout", Ending::Terminate, &mut evs);
            }
        }
        self.emit(evs);
    }

    /// Closes socket controllers that had no App for `limit`: `idle_timeout`, close 4002.
    pub(crate) fn idle_round(&self, limit: Duration) {
        let now = Instant::now();
        let mut evs = vec![];
        {
            let mut st = self.lock();
            let idle: Vec<V4Id> = st
                .conns
                .iter()
                .filter(|(_, c)| c.idle_since.is_some_and(|t| now.duration_since(t) >= limit))
                .map(|(id, _)| *id)
                .collect();
            for id in idle {
                remove(
                    &mut st,
                    id,
                    "idle_timeout",
                    Ending::Close(Some(frames::IDLE_TIMEOUT), 4002),
                    &mut evs,
                );
            }
        }
        self.emit(evs);
    }

    /// Every controller and its Apps, oldest controller first.
    pub(crate) fn snapshot(&self) -> Vec<V4ControllerInfo> {
        let st = self.lock();
        let mut out: Vec<V4ControllerInfo> = st
            .conns
            .iter()
            .filter(|(_, c)| c.role != V4Role::App)
            .map(|(id, c)| V4ControllerInfo {
                id: *id,
                role: c.role,
                remote: c.remote,
                connected_since: c.since,
                last_rtt: c.rtt,
                apps: c
                    .apps
                    .iter()
                    .filter_map(|a| {
                        st.conns.get(a).map(|e| V4AppInfo {
                            id: *a,
                            remote: e.remote,
                            connected_since: e.since,
                            last_rtt: e.rtt,
                        })
                    })
                    .collect(),
            })
            .collect();
        out.sort_by_key(|c| (c.connected_since, c.id));
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().conns.len()
    }
}

/// Adds a connection under a fresh id, unique among live ones.
fn insert(
    st: &mut State,
    role: V4Role,
    remote: Option<SocketAddr>,
    outbox: Outbox,
    cancel: CancellationToken,
) -> (V4Id, u64) {
    let id = loop {
        let id = V4Id::random();
        if !st.conns.contains_key(&id) {
            break id;
        }
    };
    st.next_serial += 1;
    let serial = st.next_serial;
    st.conns.insert(
        id,
        Conn {
            serial,
            role,
            remote,
            since: SystemTime::now(),
            outbox,
            cancel,
            controller: None,
            apps: vec![],
            idle_since: (role == V4Role::Controller).then(Instant::now),
            ping_sent: None,
            missed: 0,
            rtt: None,
            errors: ErrorLog::default(),
        },
    );
    (id, serial)
}

/// `app` joins `controller`: `controller_attached` to the App, `client_attached` to the
/// controller, whose idle timer stops.
fn attach(st: &mut State, app: V4Id, controller: V4Id, evs: &mut Vec<V4Event>) {
    if let Some(a) = st.conns.get_mut(&app) {
        a.controller = Some(controller);
    }
    if let Some(c) = st.conns.get_mut(&controller) {
        c.apps.push(app);
        c.idle_since = None;
    }
    let _ = deliver_text(
        st,
        app,
        frames::notice(frames::CONTROLLER_ATTACHED, controller),
    );
    evs.push(V4Event::Attached { app, controller });
    let d = deliver_to_controller(st, controller, V4Incoming::Attached(app), || {
        frames::notice(frames::CLIENT_ATTACHED, app)
    });
    let _ = outcome(d, st, controller, evs);
}

/// Queues a whole frame for a socket; in-process controllers take only the frames
/// [`deliver_to_controller`] translates, so this is a no-op for them.
fn deliver_text(st: &mut State, to: V4Id, text: String) -> Delivery {
    match st.conns.get(&to).map(|c| &c.outbox) {
        Some(Outbox::Socket(tx)) => match tx.try_send(Message::text(text)) {
            Ok(false) => Delivery::Sent,
            Ok(true) => Delivery::Crowded(tx.space()),
            Err(queue::PushError::Full) => Delivery::Stuck,
            Err(queue::PushError::Closed) => Delivery::Gone,
        },
        Some(Outbox::Local(_)) => Delivery::Sent,
        None => Delivery::Gone,
    }
}

/// A frame for a controller: as text to a socket, as [`V4Incoming`] in-process.
fn deliver_to_controller(
    st: &mut State,
    to: V4Id,
    local: V4Incoming,
    text: impl FnOnce() -> String,
) -> Delivery {
    match st.conns.get(&to).map(|c| &c.outbox) {
        Some(Outbox::Local(tx)) => match tx.try_send(local) {
            Ok(()) => Delivery::Sent,
            Err(mpsc::error::TrySendError::Full(_)) => Delivery::Stuck,
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::Gone,
        },
        Some(Outbox::Socket(_)) => deliver_text(st, to, text()),
        None => Delivery::Gone,
    }
}

/// Acts on a delivery: a stuck recipient is dropped as too slow, a gone one removed.
fn outcome(d: Delivery, st: &mut State, to: V4Id, evs: &mut Vec<V4Event>) -> Option<queue::Space> {
    match d {
        Delivery::Sent => None,
        Delivery::Crowded(space) => Some(space),
        Delivery::Stuck => {
            remove(st, to, "too slow", Ending::Terminate, evs);
            None
        }
        Delivery::Gone => {
            if st.conns.contains_key(&to) {
                remove(st, to, "gone", Ending::Gone, evs);
            }
            None
        }
    }
}

/// Removes `id` and cascades (§4.6): a controller's Apps get `controller_disconnected`
/// and close 4000; an App's controller gets `client_disconnected`, and its idle timer
/// restarts when that was its last App.
fn remove(st: &mut State, id: V4Id, reason: &'static str, ending: Ending, evs: &mut Vec<V4Event>) {
    let Some(conn) = st.conns.remove(&id) else {
        return;
    };
    let guard = st.guard.clone();
    match conn.role {
        V4Role::App => {
            if let Some(controller) = conn.controller {
                if let Some(g) = &guard {
                    g.app_left(id);
                }
                evs.push(V4Event::Detached {
                    app: id,
                    controller,
                });
                if let Some(c) = st.conns.get_mut(&controller) {
                    c.apps.retain(|a| *a != id);
                    if c.apps.is_empty() && c.role == V4Role::Controller {
                        c.idle_since = Some(Instant::now());
                    }
                }
                let d = deliver_to_controller(st, controller, V4Incoming::Detached(id), || {
                    frames::notice(frames::CLIENT_DISCONNECTED, id)
                });
                let _ = outcome(d, st, controller, evs);
            }
        }
        V4Role::Controller | V4Role::LocalController => {
            for app in &conn.apps {
                if !st.conns.contains_key(app) {
                    continue;
                }
                if let Some(g) = &guard {
                    g.app_left(*app);
                }
                evs.push(V4Event::Detached {
                    app: *app,
                    controller: id,
                });
                if let Some(a) = st.conns.get_mut(app) {
                    // Already detached: its removal must not notify us again.
                    a.controller = None;
                }
                let notice = frames::notice(frames::CONTROLLER_DISCONNECTED, id);
                let _ = deliver_text(st, *app, notice);
                remove(
                    st,
                    *app,
                    "controller_disconnected",
                    Ending::Close(None, 4000),
                    evs,
                );
            }
        }
    }
    if conn.errors.hidden > 0 {
        evs.push(V4Event::ErrorsNotShown {
            id,
            count: conn.errors.hidden,
        });
    }
    evs.push(V4Event::Closed {
        id,
        role: conn.role,
        reason,
    });
    finish(conn, reason, ending);
}

/// Ends a removed connection's outbox as `ending` says. Dropping a socket's sender lets
/// its writer drain what is queued and then stop, which is how a close frame goes last.
fn finish(conn: Conn, reason: &'static str, ending: Ending) {
    match (conn.outbox, ending) {
        (Outbox::Socket(tx), Ending::Close(notice, code)) => {
            let notice_ok = notice.is_none_or(|n| tx.try_send(Message::text(n)).is_ok());
            let close = Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            }));
            if !notice_ok || tx.try_send(close).is_err() {
                conn.cancel.cancel();
            }
        }
        (Outbox::Socket(_), Ending::Terminate) => conn.cancel.cancel(),
        // An in-process inbox closes when its sender drops: the controller sees the end.
        _ => {}
    }
}
