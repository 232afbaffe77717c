//! The socket: scan, connect, take the id the relay hands out, bind, then one task that
//! reads frames, sends answers and runs the App's 100 ms clock until the end.

use super::event::{DisconnectReason, VirtualAppEvent};
use super::model::AppModel;
use super::timeline::{tick_ms, History};
use super::{scan, VirtualAppConfig, VirtualAppError};
use crate::protocol::codec::{self, Inbound};
use crate::protocol::{Code, MessageType, TARGET_ID_MESSAGE};
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Largest frame read from the relay. The App ignores anything over 1950 characters, so a
/// relay sending megabytes gets the socket closed instead of our memory.
const MAX_INBOUND: usize = 64 * 1024;

/// Events kept for a watcher that falls behind (20 ticks a second: about 50 s).
const EVENT_BUFFER: usize = 1024;

/// Reports and feedback waiting to go out.
const OUT_QUEUE: usize = 64;

/// What the user's side asks the socket task to send.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outbound {
    /// The strength report, built from the model when it is sent, so a report never goes
    /// out older than one already sent.
    Report,
    /// `feedback-N`.
    Feedback(u8),
}

/// What the handle and the task share.
#[derive(Debug)]
pub(crate) struct Shared {
    model: Mutex<AppModel>,
    history: Mutex<History>,
    events: broadcast::Sender<VirtualAppEvent>,
    pub(crate) out: mpsc::Sender<Outbound>,
    pub(crate) stop: CancellationToken,
    /// Cancelled once the task has ended and the last event is out.
    pub(crate) finished: CancellationToken,
}

impl Shared {
    pub(crate) fn model(&self) -> MutexGuard<'_, AppModel> {
        // Nothing panics while holding the lock; take the data even if something did.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn history(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<VirtualAppEvent> {
        self.events.subscribe()
    }

    fn emit(&self, ev: VirtualAppEvent) {
        // No watcher is fine: the App plays on whether anyone draws it.
        let _ = self.events.send(ev);
    }
}

/// Scans `target`, connects, binds; on success the App's task is running.
pub(crate) async fn connect(
    target: &str,
    config: &VirtualAppConfig,
) -> Result<Arc<Shared>, VirtualAppError> {
    let target = scan::parse(target).ok_or(VirtualAppError::InvalidQr)?;
    let mut ws_config = WebSocketConfig::default();
    ws_config.max_message_size = Some(MAX_INBOUND);
    ws_config.max_frame_size = Some(MAX_INBOUND);
    // Nagle off: reports are small and the terminal's gate waits for each.
    let connecting =
        tokio_tungstenite::connect_async_with_config(&target.url, Some(ws_config), true);
    let (mut ws, _) = tokio::time::timeout(config.timeout, connecting)
        .await
        .map_err(|_| VirtualAppError::Timeout("connect"))?
        .map_err(|e| VirtualAppError::Connect(e.to_string()))?;

    let app_id = tokio::time::timeout(config.timeout, greeting(&mut ws))
        .await
        .map_err(|_| VirtualAppError::NoId)??;
    let mut model = AppModel::new(
        app_id,
        target.terminal_id,
        [config.soft_limit_a, config.soft_limit_b],
    );
    send(&mut ws, model.bind_request()).await?;
    tokio::time::timeout(config.timeout, bind_result(&mut ws))
        .await
        .map_err(|_| VirtualAppError::Timeout("bind"))??;
    model.set_bound(true);
    // The App tells its new terminal where it stands right after pairing.
    let (report, _) = model.report_frame();
    send(&mut ws, report).await?;

    let (events, _) = broadcast::channel(EVENT_BUFFER);
    let (out, out_rx) = mpsc::channel(OUT_QUEUE);
    let shared = Arc::new(Shared {
        model: Mutex::new(model),
        history: Mutex::new(History::default()),
        events,
        out,
        stop: CancellationToken::new(),
        finished: CancellationToken::new(),
    });
    tokio::spawn(run(ws, shared.clone(), out_rx, config.tick));
    Ok(shared)
}

async fn send(ws: &mut Ws, text: String) -> Result<(), VirtualAppError> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| VirtualAppError::Connect(e.to_string()))
}

/// The relay's first frame: `bind` with our new id in `clientId`. Code 211 when it closes
/// first (or, through the caller's timeout, never says).
async fn greeting(ws: &mut Ws) -> Result<String, VirtualAppError> {
    while let Some(frame) = ws.next().await {
        let Ok(Message::Text(text)) = frame else {
            if frame.is_err() {
                break;
            }
            continue;
        };
        if let Ok(Inbound::Envelope(env)) = codec::decode(&text) {
            if env.kind == MessageType::Bind
                && env.message == TARGET_ID_MESSAGE
                && !env.client_id.is_empty()
            {
                return Ok(env.client_id);
            }
        }
    }
    Err(VirtualAppError::NoId)
}

/// Waits for the relay's answer to our bind: 200, or the code it refused with.
async fn bind_result(ws: &mut Ws) -> Result<(), VirtualAppError> {
    while let Some(frame) = ws.next().await {
        let text = match frame {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let Ok(Inbound::Envelope(env)) = codec::decode(&text) else {
            continue;
        };
        let code = Code::from_message(&env.message);
        match (env.kind, code) {
            (MessageType::Bind, Some(Code::Success)) => return Ok(()),
            (MessageType::Bind | MessageType::Msg | MessageType::Error, Some(c)) => {
                return Err(VirtualAppError::BindRefused(c.as_u16()))
            }
            _ => {}
        }
    }
    Err(VirtualAppError::Connect(
        "the relay closed the connection before answering the bind".into(),
    ))
}

async fn run(mut ws: Ws, shared: Arc<Shared>, mut out: mpsc::Receiver<Outbound>, tick: Duration) {
    let start = tokio::time::Instant::now();
    let mut clock = tokio::time::interval_at(start + tick, tick);
    let mut ticks = 0u64;
    let (reason, code) = 'conn: loop {
        tokio::select! {
            () = shared.stop.cancelled() => {
                let _ = ws.close(None).await;
                break (DisconnectReason::Closed, None);
            }
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    // Pings are answered by tungstenite as it reads.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    // A binary frame is nothing the App reads.
                    Some(Ok(Message::Binary(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        break (DisconnectReason::RelayClosed, None);
                    }
                };
                let reaction = shared.model().on_text(&text);
                for ev in reaction.events {
                    shared.emit(ev);
                }
                for reply in reaction.replies {
                    if ws.send(Message::text(reply)).await.is_err() {
                        break 'conn (DisconnectReason::RelayClosed, None);
                    }
                }
                if let Some(end) = reaction.end {
                    let _ = ws.close(None).await;
                    break end;
                }
            }
            Some(job) = out.recv() => {
                let (text, ev) = {
                    let model = shared.model();
                    match job {
                        Outbound::Report => model.report_frame(),
                        Outbound::Feedback(button) => (
                            model.feedback_frame(button),
                            VirtualAppEvent::Feedback { button },
                        ),
                    }
                };
                if ws.send(Message::text(text)).await.is_err() {
                    break (DisconnectReason::RelayClosed, None);
                }
                shared.emit(ev);
            }
            _ = clock.tick() => {
                ticks += 1;
                let played = shared.model().tick(tick_ms(ticks, tick));
                shared.history().push(played);
                for p in played {
                    shared.emit(VirtualAppEvent::Played(p));
                }
            }
        }
    };
    shared.model().set_disconnected();
    shared.emit(VirtualAppEvent::Disconnected { reason, code });
    shared.finished.cancel();
}
