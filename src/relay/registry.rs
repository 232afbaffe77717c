//! Who is connected, who is paired with whom, and routing between them.
//!
//! The registry is the only place that knows the pairs. Peer tasks hand it decoded frames
//! ([`Inbound`]) and it answers by queueing frames on the recipients' outboxes; it never
//! touches a socket or raw JSON, and never waits: every method is synchronous, takes the
//! lock briefly and never across an `.await`.

use super::event::{ConnectionInfo, RelayEvent, Role};
use crate::protocol::codec::{self, DecodeError, FrontEnd, FrontEndAction, Inbound};
use crate::protocol::{Code, Envelope, MessageType, TARGET_ID_MESSAGE};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
// tokio's clock, so ping timeouts follow a paused clock in tests.
use super::guard::{AppGuard, Verdict};
use super::inspect::{Direction, InspectStream, Tap};
use super::local::SendError;
use super::queue;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Where frames for one connection go.
#[derive(Debug)]
pub(crate) enum Outbox {
    /// A socket's writer: serialized frames (and pings).
    Socket(queue::Sender),
    /// An in-process endpoint: envelopes handed over in place, no JSON.
    Local(Box<dyn super::local::LocalEndpoint>),
}

/// Whether a frame was delivered.
#[derive(Debug)]
enum Delivery {
    Sent,
    /// Sent, and the recipient's queue is now crowded: the source should pause.
    Crowded(queue::Space),
    /// Recipient gone.
    Gone,
    /// Recipient's queue is full: it is stuck and gets disconnected.
    Stuck,
}

#[derive(Debug)]
struct Entry {
    role: Role,
    remote: Option<SocketAddr>,
    since: SystemTime,
    outbox: Outbox,
    /// Cancels this connection's task (socket) — used to drop stuck or silent peers.
    cancel: CancellationToken,
    paired: Option<Uuid>,
    rtt: Option<Duration>,
    /// When the unanswered ping went out, if one is outstanding.
    ping_sent: Option<Instant>,
    /// Why the connection is being dropped, if the relay decided so (for the event).
    drop_reason: Option<&'static str>,
    /// Its refused frames, for rate-limited reporting.
    rejects: RejectLog,
}

/// How many refused frames of one connection are reported one by one per window; the rest
/// are counted and reported in one summary event (at the next window or when it leaves), so
/// a client sending garbage in a loop cannot flood the log.
const REJECTS_REPORTED: u32 = 5;
/// The window of [`REJECTS_REPORTED`].
const REJECT_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct RejectLog {
    window_start: Option<Instant>,
    reported: u32,
    /// Refused but not reported in this window, and the last code among them.
    hidden: u64,
    last_hidden: Option<Code>,
}

impl RejectLog {
    /// Counts one refusal: whether to report it, and a summary of the previous window's
    /// unreported ones if a new window began.
    fn note(&mut self, now: Instant) -> (bool, Option<(u64, Code)>) {
        let new_window = self
            .window_start
            .is_none_or(|s| now.duration_since(s) >= REJECT_WINDOW);
        if new_window {
            let summary = self.take_summary();
            self.window_start = Some(now);
            self.reported = 1;
            return (true, summary);
        }
        if self.reported < REJECTS_REPORTED {
            self.reported += 1;
            return (true, None);
        }
        self.hidden += 1;
        (false, None)
    }

    fn hide(&mut self, code: Code) {
        self.last_hidden = Some(code);
    }

    fn take_summary(&mut self) -> Option<(u64, Code)> {
        let n = std::mem::take(&mut self.hidden);
        let code = self.last_hidden.take()?;
        (n > 0).then_some((n, code))
    }
}

fn summary_event(id: Uuid, (n, code): (u64, Code)) -> RelayEvent {
    RelayEvent::Rejected {
        id,
        code,
        reason: format!(
            "{n} more refused frame(s) not reported one by one (at most {REJECTS_REPORTED} per {} s)",
            REJECT_WINDOW.as_secs()
        ),
    }
}

#[derive(Debug, Default)]
struct State {
    peers: HashMap<Uuid, Entry>,
    /// `clientMsg` repeats running, by (sender, channel number): generation and stop token.
    repeats: HashMap<(Uuid, u8), (u64, CancellationToken)>,
    /// Generation of the newest repeat, so a finished one never removes its successor.
    next_repeat: u64,
    /// The relay-wide policy on frames bound for Apps, if one is set.
    guard: Option<Arc<dyn AppGuard>>,
    /// The inspector's tap, for the frames queued under the lock (same as `Registry::tap`).
    tap: Arc<Tap>,
}

/// One `clientMsg` repeat: what to send, to whom, how often.
struct Repeat {
    sender: Uuid,
    client_id: String,
    target_id: String,
    channel: u8,
    command: String,
    seconds: u32,
}

/// Shared registry handle; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    /// The state. A `std` mutex: it is held for a few hash lookups, never across an
    /// `.await` (clippy's `await_holding_lock` is denied crate-wide).
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<RelayEvent>,
    /// Spawns and tracks the `clientMsg` repeat tasks so shutdown waits for them.
    tracker: TaskTracker,
    /// Relay-wide shutdown; repeat tasks end with it.
    shutdown: CancellationToken,
    /// Ping every new socket right away (when pings are on), so its round-trip time is
    /// known within moments instead of one ping interval later.
    ping_on_join: bool,
    /// Whether relayed messages become `RelayEvent::Relayed` (when anyone subscribes).
    relayed_events: Arc<AtomicBool>,
    /// The protocol inspector's tap; checked without the lock for frames read.
    tap: Arc<Tap>,
}

impl Registry {
    pub(crate) fn new(
        events: broadcast::Sender<RelayEvent>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
        ping_on_join: bool,
    ) -> Self {
        let tap = Arc::new(Tap::default());
        Registry {
            state: Arc::new(Mutex::new(State {
                tap: tap.clone(),
                ..State::default()
            })),
            tap,
            events,
            tracker,
            shutdown,
            ping_on_join,
            relayed_events: Arc::new(AtomicBool::new(true)),
        }
    }

    /// See [`super::RelayHandle::set_relayed_events`].
    pub(crate) fn set_relayed_events(&self, on: bool) {
        self.relayed_events.store(on, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps behind (every method
        // finishes its updates before anything can panic), so poisoning is not fatal.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn emit(&self, ev: RelayEvent) {
        // No subscriber is fine.
        let _ = self.events.send(ev);
    }

    pub(crate) fn has_subscribers(&self) -> bool {
        self.events.receiver_count() > 0
    }

    /// See [`super::RelayHandle::inspect`].
    pub(crate) fn inspect(&self) -> InspectStream {
        self.tap.watch()
    }

    /// Inspector records built so far.
    pub(crate) fn inspected(&self) -> u64 {
        self.tap.made()
    }

    /// Copies a frame read from `id` for the inspector, if anyone watches.
    fn tap_in(&self, id: Uuid, text: &str) {
        if self.tap.active() {
            let role = self.lock().peers.get(&id).map_or(Role::Unknown, |e| e.role);
            self.tap.frame(id, role, Direction::In, text);
        }
    }

    /// A plain HTTP request refused by a listener (`method` and `path` already escaped):
    /// an event, and an inspector record if anyone watches.
    pub(crate) fn http_refused(&self, from: SocketAddr, status: u16, method: String, path: String) {
        if self.tap.active() {
            self.tap.refused(
                status,
                path.clone(),
                format!("{method} {path}").trim().to_owned(),
            );
        }
        self.emit(RelayEvent::HttpRefused { from, status, path });
    }

    /// Registers a new connection, queues its `bind`/`targetId` greeting and returns its id.
    pub(crate) fn join(
        &self,
        outbox: Outbox,
        remote: Option<SocketAddr>,
        role: Role,
        cancel: CancellationToken,
    ) -> Uuid {
        let id = Uuid::new_v4();
        let greeting = Envelope::new(MessageType::Bind, id.to_string(), "", TARGET_ID_MESSAGE);
        {
            let mut st = self.lock();
            st.peers.insert(
                id,
                Entry {
                    role,
                    remote,
                    since: SystemTime::now(),
                    outbox,
                    cancel,
                    paired: None,
                    rtt: None,
                    ping_sent: None,
                    drop_reason: None,
                    rejects: RejectLog::default(),
                },
            );
            // Local terminals learn their id from the handle; sockets from this frame.
            if role != Role::Local {
                let _ = deliver(&mut st, id, greeting);
                if self.ping_on_join {
                    if let Some(e) = st.peers.get_mut(&id) {
                        if let Outbox::Socket(tx) = &e.outbox {
                            if tx.try_send_first(Message::Ping(Default::default())).is_ok() {
                                e.ping_sent = Some(Instant::now());
                            }
                        }
                    }
                }
            }
        }
        self.emit(RelayEvent::Connected { id, remote, role });
        id
    }

    /// Removes a connection; its partner (if any) gets `break` 209 and stays connected.
    pub(crate) fn leave(&self, id: Uuid, reason: &'static str) {
        let (brk, reason, summary) = {
            let mut st = self.lock();
            let Some(mut entry) = st.peers.remove(&id) else {
                return;
            };
            let summary = entry.rejects.take_summary();
            cancel_repeats(&mut st, id);
            if entry.role == Role::App {
                if let Some(g) = &st.guard {
                    g.app_left(id);
                }
            }
            if entry.role == Role::Local {
                // Ends the endpoint's watcher task (join_local); it finds nothing to remove.
                entry.cancel.cancel();
            }
            let reason = entry.drop_reason.unwrap_or(reason);
            let brk = entry.paired.map(|other| {
                let (terminal, app) = if entry.role == Role::App {
                    (other, id)
                } else {
                    (id, other)
                };
                cancel_repeats(&mut st, other);
                let survivor = match st.peers.get_mut(&other) {
                    Some(e) => {
                        e.paired = None;
                        let env = Envelope::new(
                            MessageType::Break,
                            terminal.to_string(),
                            app.to_string(),
                            Code::PeerDisconnected.as_message(),
                        );
                        let _ = deliver(&mut st, other, env);
                        Some(other)
                    }
                    None => None,
                };
                RelayEvent::Break {
                    terminal,
                    app,
                    survivor,
                }
            });
            (brk, reason, summary)
        };
        if let Some(s) = summary {
            self.emit(summary_event(id, s));
        }
        if let Some(b) = brk {
            self.emit(b);
        }
        self.emit(RelayEvent::Disconnected { id, reason });
    }

    /// Registers an in-process endpoint; it learns its id from the returned value, so it
    /// gets no greeting. Nothing to cancel: it has no task and leaves when its link drops.
    pub(crate) fn join_local(&self, endpoint: Box<dyn super::local::LocalEndpoint>) -> Uuid {
        let cancel = CancellationToken::new();
        let id = self.join(Outbox::Local(endpoint), None, Role::Local, cancel.clone());
        // A socket's task ends when the relay drops it; an in-process endpoint has no task,
        // so this one carries out the drop (a full queue: "too slow").
        let reg = self.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => reg.leave(id, "too slow"),
                _ = reg.shutdown.cancelled() => {}
            }
        });
        id
    }

    /// The id `id` is paired with.
    pub(crate) fn pair_of(&self, id: Uuid) -> Option<Uuid> {
        self.lock().peers.get(&id).and_then(|e| e.paired)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().peers.len()
    }

    pub(crate) fn snapshot(&self) -> Vec<ConnectionInfo> {
        let st = self.lock();
        let mut v: Vec<ConnectionInfo> = st
            .peers
            .iter()
            .map(|(id, e)| ConnectionInfo {
                id: *id,
                role: e.role,
                remote: e.remote,
                connected_since: e.since,
                last_rtt: e.rtt,
                paired_with: e.paired,
            })
            .collect();
        v.sort_by_key(|c| c.connected_since);
        v
    }

    /// A socket answered our ping.
    pub(crate) fn pong(&self, id: Uuid) {
        let rtt = {
            let mut st = self.lock();
            let Some(e) = st.peers.get_mut(&id) else {
                return;
            };
            let Some(sent) = e.ping_sent.take() else {
                return;
            };
            let rtt = sent.elapsed();
            e.rtt = Some(rtt);
            rtt
        };
        self.emit(RelayEvent::RoundTrip { id, rtt });
    }

    /// One keep-alive round: drops sockets whose last ping went unanswered for `timeout`,
    /// pings the others.
    pub(crate) fn ping_round(&self, timeout: Duration) {
        let now = Instant::now();
        let mut st = self.lock();
        for e in st.peers.values_mut() {
            let Outbox::Socket(tx) = &e.outbox else {
                continue;
            };
            // Silence counts from the ping or the last frame read, whichever is later, and
            // not while the relay itself is not reading the socket: a peer whose pong waits
            // behind its own frames (paced by a slow partner) is not gone.
            match e.ping_sent {
                Some(sent)
                    if !tx.is_paused()
                        && now.duration_since(sent.max(tx.heard_at())) >= timeout =>
                {
                    e.drop_reason = Some("ping timeout");
                    e.cancel.cancel();
                }
                Some(_) => {}
                None => {
                    // Ahead of queued frames: the pong then measures the peer, not us.
                    if tx.try_send_first(Message::Ping(Default::default())).is_ok() {
                        e.ping_sent = Some(now);
                    }
                }
            }
        }
    }

    /// One heartbeat round: `heartbeat` 200 to every connection, with `clientId` = the
    /// recipient and `targetId` = its peer or "". One failing socket never stops the round.
    pub(crate) fn heartbeat_round(&self) {
        let mut st = self.lock();
        let targets: Vec<(Uuid, Option<Uuid>)> =
            st.peers.iter().map(|(id, e)| (*id, e.paired)).collect();
        let mut sent = 0;
        for (id, peer) in targets {
            let env = Envelope::new(
                MessageType::Heartbeat,
                id.to_string(),
                peer.map(|p| p.to_string()).unwrap_or_default(),
                Code::Success.as_message(),
            );
            if matches!(
                deliver(&mut st, id, env),
                Delivery::Sent | Delivery::Crowded(_)
            ) {
                sent += 1;
            }
        }
        drop(st);
        self.emit(RelayEvent::Heartbeat { sent });
    }

    /// The ids an error reply to `id` carries: its own, in the roles it plays.
    fn own_ids(st: &State, id: Uuid) -> (String, String) {
        match st.peers.get(&id) {
            Some(e) if e.role == Role::App => (
                e.paired.map(|p| p.to_string()).unwrap_or_default(),
                id.to_string(),
            ),
            Some(e) => (
                id.to_string(),
                e.paired.map(|p| p.to_string()).unwrap_or_default(),
            ),
            None => (id.to_string(), String::new()),
        }
    }

    /// Answers `id` with `code` and records the rejection (rate-limited per connection).
    pub(crate) fn reject(&self, id: Uuid, code: Code, reason: String) {
        let (report, summary) = {
            let mut st = self.lock();
            let (c, t) = Self::own_ids(&st, id);
            let env = Envelope::new(code.reply_type(), c, t, code.as_message());
            let _ = deliver(&mut st, id, env);
            match st.peers.get_mut(&id) {
                Some(e) => {
                    let (report, summary) = e.rejects.note(Instant::now());
                    if !report {
                        e.rejects.hide(code);
                    }
                    (report, summary)
                }
                None => (true, None),
            }
        };
        if let Some(s) = summary {
            self.emit(summary_event(id, s));
        }
        if report {
            self.emit(RelayEvent::Rejected { id, code, reason });
        }
    }

    /// Decodes and handles one text frame from `sender`; `Some` when a queue it filled is
    /// crowded (the sender's reading should wait for room on it).
    pub(crate) fn handle_text(&self, sender: Uuid, text: &str) -> Option<queue::Space> {
        self.tap_in(sender, text);
        match codec::decode(text) {
            Ok(inbound) => self.handle(sender, inbound),
            Err(e) => {
                self.refuse_undecodable(sender, &e, text);
                None
            }
        }
    }

    /// A frame that did not decode. 403 only for what is not a JSON object; an object is
    /// answered by the ids it names: 404 if the sender owns neither, 402 if it is not paired
    /// with the other, else `error` `406-<field> is invalid` (the vendor relay's style for a
    /// bad front-end field); nothing is delivered to anyone else.
    fn refuse_undecodable(&self, sender: Uuid, e: &DecodeError, text: &str) {
        if let Some(code) = e.code() {
            return self.reject(sender, code, e.to_string());
        }
        let (c, t) = codec::object_ids(text);
        self.refuse_object(sender, c.as_deref(), t.as_deref(), e.field(), e.to_string());
    }

    /// A JSON object that is no valid frame, naming `client_id` and `target_id`: 404 if the
    /// sender owns neither, 402 if it is not paired with the other, else `error`
    /// `406-<field> is invalid`.
    fn refuse_object(
        &self,
        sender: Uuid,
        client_id: Option<&str>,
        target_id: Option<&str>,
        field: &str,
        reason: String,
    ) {
        let parse = |x: Option<&str>| x.and_then(|s| Uuid::parse_str(s).ok());
        let (c, t) = (parse(client_id), parse(target_id));
        let code = {
            let mut st = self.lock();
            let other = if c == Some(sender) {
                t
            } else if t == Some(sender) {
                c
            } else {
                None
            };
            let paired = st.peers.get(&sender).and_then(|e| e.paired);
            if c != Some(sender) && t != Some(sender) {
                Some(Code::NotFound)
            } else if other.is_none() || other != paired {
                Some(Code::NotPaired)
            } else {
                let (c, t) = Self::own_ids(&st, sender);
                let msg = format!("406-{field} is invalid");
                let _ = deliver(
                    &mut st,
                    sender,
                    Envelope::new(MessageType::Error, c, t, msg),
                );
                None
            }
        };
        if let Some(code) = code {
            self.reject(sender, code, reason);
        }
    }

    /// Handles one decoded frame from connection `sender`, answering errors to it; `Some`
    /// when the recipient's queue is crowded.
    pub(crate) fn handle(&self, sender: Uuid, inbound: Inbound) -> Option<queue::Space> {
        let result = match inbound {
            Inbound::Envelope(env) => match env.kind {
                MessageType::Bind => {
                    self.bind(sender, &env.client_id, &env.target_id);
                    Ok(None)
                }
                MessageType::Msg => self.relay_socket(sender, env).map_err(|c| (c, "msg")),
                // A peer's own heartbeat is harmless keep-alive.
                MessageType::Heartbeat => Ok(None),
                // Only the relay sends these: a well-formed object of the wrong type.
                MessageType::Break | MessageType::Error => {
                    self.refuse_object(
                        sender,
                        Some(&env.client_id),
                        Some(&env.target_id),
                        "type",
                        "only the relay sends break and error".to_owned(),
                    );
                    Ok(None)
                }
            },
            Inbound::FrontEnd(fe) => self.front_end(sender, fe),
        };
        match result {
            Ok(space) => space,
            Err((code, what)) => {
                self.reject(sender, code, what.to_owned());
                None
            }
        }
    }

    /// `bind` from the App: `client_id` is the terminal to pair with, `target_id` the App
    /// itself. The sender must own `target_id`, so no socket can pair someone else's App.
    fn bind(&self, sender: Uuid, client_id: &str, target_id: &str) {
        let code = {
            let mut st = self.lock();
            let code = Self::bind_locked(&mut st, sender, client_id, target_id);
            let reply = Envelope::new(code.reply_type(), client_id, target_id, code.as_message());
            match code {
                Code::Success => {
                    let terminal = Uuid::parse_str(client_id).unwrap_or_default();
                    let _ = deliver(&mut st, terminal, reply.clone());
                    let _ = deliver(&mut st, sender, reply);
                }
                // Ids the sender does not own: answer with its own ids, as every error reply
                // does, and never echo someone else's.
                Code::NotFound => {
                    let (c, t) = Self::own_ids(&st, sender);
                    let env = Envelope::new(code.reply_type(), c, t, code.as_message());
                    let _ = deliver(&mut st, sender, env);
                }
                // 400/401 go to the requester only, naming the pair it asked for (unless
                // that would make a frame the App drops for its length: then its own ids).
                _ => {
                    let reply = if codec::encode(&reply).is_ok() {
                        reply
                    } else {
                        let (c, t) = Self::own_ids(&st, sender);
                        Envelope::new(code.reply_type(), c, t, code.as_message())
                    };
                    let _ = deliver(&mut st, sender, reply);
                }
            }
            code
        };
        // Peer-supplied text: escaped and cut short before it can reach a log line.
        self.emit(RelayEvent::BindAttempt {
            client_id: super::logline::escape(client_id, super::logline::MAX_ID_CHARS),
            target_id: super::logline::escape(target_id, super::logline::MAX_ID_CHARS),
            code,
        });
    }

    fn bind_locked(st: &mut State, sender: Uuid, client_id: &str, target_id: &str) -> Code {
        let (Ok(terminal), Ok(app)) = (Uuid::parse_str(client_id), Uuid::parse_str(target_id))
        else {
            return if Uuid::parse_str(target_id).ok() == Some(sender) {
                Code::TargetNotConnected
            } else {
                Code::NotFound
            };
        };
        if app != sender {
            return Code::NotFound;
        }
        if terminal == app {
            return Code::TargetNotConnected;
        }
        let Some(t) = st.peers.get(&terminal) else {
            return Code::TargetNotConnected;
        };
        // A connection that already plays the App cannot become someone's terminal.
        if t.paired.is_some() || t.role == Role::App {
            return Code::AlreadyPaired;
        }
        let a = &st.peers[&app];
        if a.paired.is_some() || matches!(a.role, Role::Terminal | Role::Local) {
            return Code::AlreadyPaired;
        }
        let t = st.peers.get_mut(&terminal).expect("checked above");
        t.paired = Some(app);
        if t.role == Role::Unknown {
            t.role = Role::Terminal;
        }
        let a = st.peers.get_mut(&app).expect("sender is registered");
        a.paired = Some(terminal);
        a.role = Role::App;
        Code::Success
    }

    /// Checks that `sender` owns one side of the pair (`client_id`, `target_id`) and is
    /// paired with the other; returns the recipient.
    fn check_pair(
        st: &State,
        sender: Uuid,
        client_id: &str,
        target_id: &str,
    ) -> Result<Uuid, Code> {
        let c = Uuid::parse_str(client_id).ok();
        let t = Uuid::parse_str(target_id).ok();
        let other = if c == Some(sender) {
            t
        } else if t == Some(sender) {
            c
        } else {
            return Err(Code::NotFound);
        };
        let paired = st.peers.get(&sender).and_then(|e| e.paired);
        match (other, paired) {
            (Some(o), Some(p)) if o == p => Ok(o),
            _ => Err(Code::NotPaired),
        }
    }

    /// `msg` from `sender`: goes to the other member of its pair, never back to the sender.
    ///
    /// With `busy_if_full` (an in-process sender, which cannot be paused), a recipient
    /// whose queue is full refuses the frame with [`SendError::Busy`]; otherwise the
    /// recipient is dropped as "too slow" (only timers can get there: sockets are paused).
    pub(crate) fn relay_msg(
        &self,
        sender: Uuid,
        env: Envelope,
        busy_if_full: bool,
    ) -> Result<(), SendError> {
        self.relay(sender, env, busy_if_full).map(drop)
    }

    /// [`Registry::relay`] for a frame read from a socket, whose reading is paused while
    /// the recipient's queue is crowded (so it is never told `Busy`).
    fn relay_socket(&self, sender: Uuid, env: Envelope) -> Result<Option<queue::Space>, Code> {
        match self.relay(sender, env, false) {
            Ok(space) => Ok(space),
            Err(SendError::Refused(c)) => Err(c),
            // Not asked for: `busy_if_full` is false.
            Err(SendError::Busy) => Ok(None),
        }
    }

    /// [`Registry::relay_msg`], telling whether the recipient's queue is now crowded.
    fn relay(
        &self,
        sender: Uuid,
        mut env: Envelope,
        busy_if_full: bool,
    ) -> Result<Option<queue::Space>, SendError> {
        env.kind = MessageType::Msg;
        // Serialize before taking the lock: it is the costliest step, and the lock is shared
        // by every connection. The pair check still decides first (402 before 405).
        let mut encoded = codec::encode(&env);
        let mut st = self.lock();
        let to = Self::check_pair(&st, sender, &env.client_id, &env.target_id)?;
        // Before the guard sees it: a frame refused here was never sent. Under the lock, so
        // the queue can only shrink until this frame is queued.
        if busy_if_full
            && st
                .peers
                .get(&to)
                .is_some_and(|e| matches!(&e.outbox, Outbox::Socket(tx) if tx.is_full()))
        {
            return Err(SendError::Busy);
        }
        let mut corrections = vec![];
        if let Some(guard) = st.guard.clone() {
            if st.peers.get(&to).is_some_and(|e| e.role == Role::App) {
                match guard.terminal_sent(to, sender, &env.message) {
                    Verdict::Pass => {}
                    Verdict::Replace(m) => {
                        env.message = m;
                        encoded = codec::encode(&env);
                    }
                    Verdict::Refuse => return Err(Code::Refused.into()),
                }
            } else if st.peers.get(&sender).is_some_and(|e| e.role == Role::App) {
                corrections = guard.app_sent(sender, to, &env.message);
            }
        }
        let text = encoded.map_err(|_| SendError::Refused(Code::TooLong))?;
        // The policy's answers to the App's report (a level brought back under a cap) go
        // ahead of anything queued for it.
        if !corrections.is_empty() {
            let frames = corrections
                .into_iter()
                .map(|m| Envelope::new(MessageType::Msg, to.to_string(), sender.to_string(), m))
                .collect();
            urgent(&mut st, sender, frames, false);
        }
        // Peer text, bound for log lines: escaped and cut short (see `RelayEvent::Relayed`).
        let relayed_event = self.relayed_events.load(Ordering::Relaxed) && self.has_subscribers();
        let event_msg = relayed_event.then(|| {
            Arc::<str>::from(super::logline::escape(
                &env.message,
                super::logline::MAX_TEXT_CHARS,
            ))
        });
        // A clear empties the App's queue: a `clientMsg` repeat on that channel would fill
        // it again, so it ends here too.
        match env.message.as_str() {
            "clear-1" => cancel_repeat(&mut st, sender, 1),
            "clear-2" => cancel_repeat(&mut st, sender, 2),
            _ => {}
        }
        // Queued under the lock, so a `break` can never overtake a message of the pair.
        let space = match deliver_encoded(&mut st, to, env, text) {
            Delivery::Sent => None,
            Delivery::Crowded(space) => Some(space),
            // Pairs are removed with their members, so this is a race with leave().
            Delivery::Gone | Delivery::Stuck => return Err(Code::NotFound.into()),
        };
        drop(st);
        if let Some(message) = event_msg {
            self.emit(RelayEvent::Relayed {
                from: sender,
                to,
                message,
            });
        }
        Ok(space)
    }

    fn front_end(
        &self,
        sender: Uuid,
        fe: FrontEnd,
    ) -> Result<Option<queue::Space>, (Code, &'static str)> {
        let FrontEnd {
            client_id,
            target_id,
            action,
        } = fe;
        match action {
            FrontEndAction::Strength(cmd) | FrontEndAction::Raw(cmd) => self
                .relay_socket(
                    sender,
                    Envelope::new(MessageType::Msg, client_id, target_id, cmd),
                )
                .map_err(|c| (c, "front-end command")),
            FrontEndAction::MissingChannel => {
                let mut st = self.lock();
                Self::check_pair(&st, sender, &client_id, &target_id)
                    .map_err(|c| (c, "clientMsg"))?;
                let env = Envelope::new(
                    MessageType::Error,
                    client_id,
                    target_id,
                    "406-channel is empty",
                );
                let _ = deliver(&mut st, sender, env);
                Ok(None)
            }
            FrontEndAction::Repeat {
                channel,
                command,
                seconds,
            } => {
                // A repeat still running on this channel is replaced: the App's queue is
                // emptied first. One that has sent everything is over and clears nothing,
                // so two one-shot (time 1) waveforms in a row both play.
                let replaced = {
                    let st = self.lock();
                    Self::check_pair(&st, sender, &client_id, &target_id)
                        .map_err(|c| (c, "clientMsg"))?;
                    // Checked once here: every repeat sends the same frame.
                    let probe =
                        Envelope::new(MessageType::Msg, &*client_id, &*target_id, &*command);
                    if codec::encode(&probe).is_err() {
                        return Err((Code::TooLong, "clientMsg"));
                    }
                    st.repeats.contains_key(&(sender, channel))
                };
                let env = |m: &str| Envelope::new(MessageType::Msg, &*client_id, &*target_id, m);
                // The clear (a running repeat replaced) or the first pulse goes out now, in
                // order with the sender's other frames; the rest from a task.
                let (first, remaining, head_start) = if replaced {
                    (format!("clear-{channel}"), seconds, Some(CLEAR_HEAD_START))
                } else {
                    (command.clone(), seconds - 1, None)
                };
                // A clear also cancels the running repeat (see `relay`).
                let space = self
                    .relay_socket(sender, env(&first))
                    .map_err(|c| (c, "clientMsg"))?;
                if remaining > 0 {
                    let (token, generation) = {
                        let mut st = self.lock();
                        st.next_repeat += 1;
                        let generation = st.next_repeat;
                        let token = self.shutdown.child_token();
                        if let Some((_, old)) = st
                            .repeats
                            .insert((sender, channel), (generation, token.clone()))
                        {
                            old.cancel();
                        }
                        (token, generation)
                    };
                    let job = Repeat {
                        sender,
                        client_id,
                        target_id,
                        channel,
                        command,
                        seconds: remaining,
                    };
                    self.spawn_repeat(job, token, generation, head_start);
                }
                Ok(space)
            }
        }
    }

    /// Sends `job.command` `job.seconds` times: after `head_start` (a clear's head start)
    /// and then once a second, or once a second from a second from now.
    fn spawn_repeat(
        &self,
        job: Repeat,
        token: CancellationToken,
        generation: u64,
        head_start: Option<Duration>,
    ) {
        let reg = self.clone();
        self.tracker.spawn(async move {
            let Repeat {
                sender,
                client_id,
                target_id,
                channel,
                command,
                seconds,
            } = job;
            // The clear went out just before: give it a head start so it cannot overtake
            // the new pulses on a slow link.
            let first = head_start.unwrap_or(Duration::from_secs(1));
            let start = tokio::time::Instant::now() + first;
            let mut tick = tokio::time::interval_at(start, Duration::from_secs(1));
            for _ in 0..seconds {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let env = Envelope::new(MessageType::Msg, &*client_id, &*target_id, &*command);
                if reg.relay_msg(sender, env, false).is_err() {
                    break;
                }
            }
            // Finished on its own: forget it, unless a newer repeat already took its place.
            let mut st = reg.lock();
            if st.repeats.get(&(sender, channel)).map(|(g, _)| *g) == Some(generation) {
                st.repeats.remove(&(sender, channel));
            }
        });
    }

    /// Sets (or removes) the relay-wide policy on frames bound for Apps.
    pub(crate) fn set_guard(&self, guard: Option<Arc<dyn AppGuard>>) {
        self.lock().guard = guard;
    }

    /// Sends `messages` to every paired App (or those in `only`), as if from its terminal,
    /// ahead of everything queued for it, which is dropped (a stop must not be followed by
    /// pulses queued before it). The terminals' `clientMsg` repeats end too. Returns the
    /// Apps reached.
    pub(crate) fn to_apps_first(&self, only: Option<&[Uuid]>, messages: &[&str]) -> Vec<Uuid> {
        let mut st = self.lock();
        let pairs: Vec<(Uuid, Uuid)> = st
            .peers
            .iter()
            .filter(|(id, e)| e.role == Role::App && only.is_none_or(|o| o.contains(id)))
            .filter_map(|(app, e)| e.paired.map(|t| (*app, t)))
            .collect();
        let mut reached = vec![];
        for (app, terminal) in pairs {
            cancel_repeats(&mut st, terminal);
            let frames = messages
                .iter()
                .map(|m| Envelope::new(MessageType::Msg, terminal.to_string(), app.to_string(), *m))
                .collect();
            if urgent(&mut st, app, frames, true) {
                reached.push(app);
            }
        }
        reached
    }

    /// Registers nothing; lets a local terminal send a frame as if it came from a socket,
    /// but returns the code instead of answering with a frame.
    pub(crate) fn send_local(&self, sender: Uuid, env: Envelope) -> Result<(), SendError> {
        if self.tap.active() {
            self.tap_in(sender, &codec::encode_unchecked(&env));
        }
        match env.kind {
            MessageType::Msg => self.relay_msg(sender, env, true),
            _ => Err(Code::NotJson.into()),
        }
    }
}

/// Head start of a replacing repeat's clear over its first pulse.
const CLEAR_HEAD_START: Duration = Duration::from_millis(150);

fn cancel_repeats(st: &mut State, id: Uuid) {
    for ch in [1u8, 2] {
        cancel_repeat(st, id, ch);
    }
}

fn cancel_repeat(st: &mut State, id: Uuid, channel: u8) {
    if let Some((_, t)) = st.repeats.remove(&(id, channel)) {
        t.cancel();
    }
}

/// Queues an already serialized and length-checked `msg` for `to`.
fn deliver_encoded(st: &mut State, to: Uuid, env: Envelope, text: String) -> Delivery {
    match st.peers.get_mut(&to) {
        Some(e) => {
            if st.tap.active() {
                st.tap.frame(to, e.role, Direction::Out, &text);
            }
            push(e, env, Some(text))
        }
        None => Delivery::Gone,
    }
}

/// Puts `frames` at the head of a socket's queue, in order, never refused for a full queue;
/// with `purge`, everything that was waiting is dropped first. `false` if there is no such
/// socket or its writer has stopped.
fn urgent(st: &mut State, to: Uuid, frames: Vec<Envelope>, purge: bool) -> bool {
    let Some(e) = st.peers.get_mut(&to) else {
        return false;
    };
    if st.tap.active() {
        for f in &frames {
            st.tap
                .frame(to, e.role, Direction::Out, &codec::encode_unchecked(f));
        }
    }
    match &e.outbox {
        Outbox::Socket(tx) => {
            let texts = frames
                .iter()
                .map(|f| Message::text(codec::encode_unchecked(f)))
                .collect();
            tx.push_urgent(texts, purge).is_ok()
        }
        Outbox::Local(endpoint) => frames
            .into_iter()
            .all(|f| endpoint.deliver(f) == super::local::Delivered::Taken),
    }
}

/// Queues a relay-made frame (greeting, bind answer, break, heartbeat, error reply).
fn deliver(st: &mut State, to: Uuid, env: Envelope) -> Delivery {
    match st.peers.get_mut(&to) {
        Some(e) => {
            if st.tap.active() {
                // Encoded once for both the record and a socket's queue.
                let text = codec::encode_unchecked(&env);
                st.tap.frame(to, e.role, Direction::Out, &text);
                let text = matches!(e.outbox, Outbox::Socket(_)).then_some(text);
                return push(e, env, text);
            }
            push(e, env, None)
        }
        None => Delivery::Gone,
    }
}

/// Puts a frame on a connection's outbox: sockets get JSON (`text` if already made), local
/// terminals the envelope itself. A full queue marks the connection stuck.
fn push(e: &mut Entry, env: Envelope, text: Option<String>) -> Delivery {
    let res = match &e.outbox {
        Outbox::Socket(tx) => {
            let text = text.unwrap_or_else(|| codec::encode_unchecked(&env));
            match tx.try_send(Message::text(text)) {
                Ok(false) => Ok(None),
                Ok(true) => Ok(Some(tx.space())),
                Err(e) => Err(e == queue::PushError::Full),
            }
        }
        Outbox::Local(endpoint) => match endpoint.deliver(env) {
            super::local::Delivered::Taken => Ok(None),
            super::local::Delivered::Full => Err(true),
            super::local::Delivered::Gone => Err(false),
        },
    };
    match res {
        Ok(None) => Delivery::Sent,
        Ok(Some(space)) => Delivery::Crowded(space),
        Err(true) => {
            stuck(e);
            Delivery::Stuck
        }
        Err(false) => Delivery::Gone,
    }
}

/// A connection whose queue is full has fallen too far behind: drop it rather than let it
/// stall its partner or grow memory without bound. (Its sources pause at the high-water
/// mark, so only frames from timers and local terminals can get here.) Nothing is logged
/// here, under the lock: the `Disconnected` event says "too slow".
fn stuck(e: &mut Entry) {
    if e.drop_reason.is_none() {
        e.drop_reason = Some("too slow");
    }
    e.cancel.cancel();
}
