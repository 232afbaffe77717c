//! Timer logic on tokio's paused clock: heartbeats and ping timeouts over in-memory
//! sockets (a paused clock would jump ahead while a task waits on real I/O).

use super::event::RelayEvent;
use super::registry::Registry;
use super::{keepalive, peer, RelayConfig};
use futures_util::{Sink, Stream};
use serde_json::{json, Value};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The relay's side of an in-memory WebSocket.
struct MemSocket {
    incoming: mpsc::UnboundedReceiver<Message>,
    outgoing: mpsc::UnboundedSender<Message>,
}

impl Stream for MemSocket {
    type Item = Result<Message, WsError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx).map(|m| m.map(Ok))
    }
}

impl Sink<Message> for MemSocket {
    type Error = WsError;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        self.outgoing
            .send(item)
            .map_err(|_| WsError::ConnectionClosed)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }
}

/// The client's side: what a simulated phone or terminal holds.
struct Remote {
    to_relay: mpsc::UnboundedSender<Message>,
    from_relay: mpsc::UnboundedReceiver<Message>,
    id: String,
}

impl Remote {
    /// Next text frame as JSON; answers pings on the way if `answer_pings`.
    async fn next_json(&mut self, answer_pings: bool) -> Option<Value> {
        loop {
            match self.from_relay.recv().await? {
                Message::Text(t) => return Some(serde_json::from_str(&t).unwrap()),
                Message::Ping(p) if answer_pings => {
                    let _ = self.to_relay.send(Message::Pong(p));
                }
                _ => {}
            }
        }
    }
    fn send(&self, v: Value) {
        self.to_relay.send(Message::text(v.to_string())).unwrap();
    }
}

struct World {
    registry: Registry,
    events: broadcast::Receiver<RelayEvent>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

fn world(config: RelayConfig) -> World {
    let (tx, events) = broadcast::channel(256);
    let tracker = TaskTracker::new();
    let shutdown = CancellationToken::new();
    let pings = config.ping_interval.is_some();
    let registry = Registry::new(tx, tracker.clone(), shutdown.clone(), pings);
    tracker.spawn(keepalive(registry.clone(), config, shutdown.clone()));
    World {
        registry,
        events,
        tracker,
        shutdown,
    }
}

async fn connect(w: &World) -> Remote {
    let (to_relay, incoming) = mpsc::unbounded_channel();
    let (outgoing, from_relay) = mpsc::unbounded_channel();
    let sock = MemSocket { incoming, outgoing };
    w.tracker.spawn(peer::serve(
        futures_util::StreamExt::split(sock),
        w.registry.clone(),
        None,
        64,
        Duration::from_secs(15),
        w.shutdown.child_token(),
    ));
    let mut r = Remote {
        to_relay,
        from_relay,
        id: String::new(),
    };
    let hello = r.next_json(true).await.unwrap();
    r.id = hello["clientId"].as_str().unwrap().to_owned();
    r
}

async fn bind(term: &mut Remote, app: &mut Remote) {
    app.send(json!({"type":"bind","clientId":term.id,"targetId":app.id,"message":"DGLAB"}));
    assert_eq!(term.next_json(true).await.unwrap()["message"], "200");
    assert_eq!(app.next_json(true).await.unwrap()["message"], "200");
}

fn config(heartbeat: Option<u64>, ping: Option<u64>, timeout: u64) -> RelayConfig {
    RelayConfig {
        heartbeat_interval: heartbeat.map(Duration::from_secs),
        ping_interval: ping.map(Duration::from_secs),
        ping_timeout: Duration::from_secs(timeout),
        ..RelayConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn heartbeat_goes_to_every_socket_at_the_interval_with_its_ids() {
    let w = world(config(Some(60), None, 10));
    let mut term = connect(&w).await;
    let mut app = connect(&w).await;
    let mut lone = connect(&w).await;
    bind(&mut term, &mut app).await;
    let start = tokio::time::Instant::now();
    let hb = term.next_json(true).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    assert_eq!(
        hb,
        json!({"type":"heartbeat","clientId":term.id,"targetId":app.id,"message":"200"})
    );
    let hb = app.next_json(true).await.unwrap();
    assert_eq!(
        hb,
        json!({"type":"heartbeat","clientId":app.id,"targetId":term.id,"message":"200"})
    );
    let hb = lone.next_json(true).await.unwrap();
    assert_eq!(
        hb,
        json!({"type":"heartbeat","clientId":lone.id,"targetId":"","message":"200"})
    );
    // And again one interval later.
    term.next_json(true).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(120));
    w.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_dead_socket_does_not_stop_the_heartbeat_for_others() {
    let w = world(config(Some(5), None, 10));
    let mut a = connect(&w).await;
    let b = connect(&w).await;
    let mut c = connect(&w).await;
    // b's client vanishes without a close: its relay-side writer fails on the next send.
    drop(b);
    for _ in 0..3 {
        assert_eq!(a.next_json(true).await.unwrap()["type"], "heartbeat");
        assert_eq!(c.next_json(true).await.unwrap()["type"], "heartbeat");
    }
    w.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_vanished_phone_is_found_by_ping_and_its_pairing_freed() {
    let w = world(config(None, Some(5), 10));
    let mut events = w.events.resubscribe();
    let mut term = connect(&w).await;
    let mut phone = connect(&w).await;
    bind(&mut term, &mut phone).await;
    // The phone goes silent (no pongs, no close); the terminal keeps answering.
    let silent_phone =
        tokio::spawn(async move { while phone.from_relay.recv().await.is_some() {} });
    let start = tokio::time::Instant::now();
    let brk = term.next_json(true).await.unwrap();
    assert_eq!(brk["type"], "break");
    assert_eq!(brk["message"], "209");
    // First ping at 5 s, unanswered at the 15 s round (>= 10 s timeout).
    assert_eq!(start.elapsed(), Duration::from_secs(15));
    // The terminal is still there and free to pair again.
    let t = uuid::Uuid::parse_str(&term.id).unwrap();
    assert_eq!(w.registry.pair_of(t), None);
    assert!(w.registry.snapshot().iter().any(|c| c.id == t));
    let mut reason = None;
    while let Ok(ev) = events.try_recv() {
        if let RelayEvent::Disconnected { reason: r, .. } = ev {
            reason = Some(r);
        }
    }
    assert_eq!(reason, Some("ping timeout"));
    // Answered pings give a round-trip time.
    let info = w.registry.snapshot();
    assert!(info.iter().find(|c| c.id == t).unwrap().last_rtt.is_some());
    w.shutdown.cancel();
    silent_phone.abort();
}

#[tokio::test(start_paused = true)]
async fn heartbeat_and_ping_off_means_silence() {
    let w = world(config(None, None, 10));
    let mut a = connect(&w).await;
    let r = tokio::time::timeout(Duration::from_secs(3600), a.next_json(false)).await;
    assert!(r.is_err(), "nothing must arrive when both are off");
    w.shutdown.cancel();
}
