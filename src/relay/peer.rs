//! One socket's life: greeting, reading frames, writing its queue, ending cleanly.
//!
//! A single task per socket selects between the socket, its outbound queue and the cancel
//! token: one small future per idle socket, no second task. It is generic over the
//! WebSocket `Stream + Sink`, so its logic can be tested on in-memory channels.

use super::event::Role;
use super::logline;
use super::queue;
use super::registry::{Outbox, Registry};
use crate::protocol::Code;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

/// Most queued frames written before one flush: batches syscalls under load without
/// letting one busy peer hog its task.
const WRITE_BATCH: usize = 64;

/// Most already-buffered frames read in one go, for the same reason.
const READ_BATCH: usize = 32;

/// Serves one WebSocket until it closes, fails, falls behind or the relay shuts down.
///
/// Reading and writing run side by side in this one task (the socket is split), and both
/// race the cancel token: a writer stuck in a flush to a peer that stopped reading never
/// keeps the connection (or a shutdown) waiting. A write batch that makes no progress for
/// `stall` drops the connection as "too slow"; a queue that is merely busy never does:
/// whoever fills a crowded queue (this socket's own, with error replies, or its partner's)
/// stops being read until the writer catches up.
///
/// It takes the socket already split (`StreamExt::split`): the halves are two pointers, so
/// this future does not also hold the whole socket, which lives behind them (it costs
/// every idle connection its size).
pub(crate) async fn serve<Si, St>(
    (mut sink, mut stream): (Si, St),
    registry: Registry,
    remote: Option<SocketAddr>,
    queue: usize,
    stall: Duration,
    cancel: CancellationToken,
) where
    Si: Sink<Message, Error = WsError> + Unpin,
    St: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let (tx, rx) = queue::bounded(queue);
    let id = registry.join(Outbox::Socket(tx), remote, Role::Unknown, cancel.clone());
    let mut close: Option<CloseFrame> = None;
    let mut answer_close = false;
    let reason: &'static str = {
        let writer = write_loop(&mut sink, &rx, stall);
        tokio::pin!(writer);
        // Set while a queue this socket fills is crowded: reading pauses until it drains.
        let mut paused: Option<queue::Space> = None;
        'serve: loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    close = Some(CloseFrame { code: CloseCode::Away, reason: "relay closing connection".into() });
                    break 'serve "shutdown";
                }
                end = &mut writer => break 'serve end,
                _ = wait_space(&paused), if paused.is_some() => {
                    paused = None;
                    rx.set_paused(false);
                }
                frame = stream.next(), if paused.is_none() => {
                    // Any frame shows the peer is there, even if its pong is still behind
                    // frames not read yet (see the ping round).
                    rx.heard();
                    let mut frame = frame;
                    // Frames already buffered are handled without going back through the
                    // select: under load this saves re-arming its futures per frame.
                    let mut handled = 0;
                    loop {
                        match on_frame(id, &registry, frame) {
                            Ok(Some(space)) => paused = Some(space),
                            Ok(None) => {}
                            Err(end) => {
                                close = end.1;
                                answer_close = end.0 == "closed";
                                break 'serve end.0;
                            }
                        }
                        handled += 1;
                        if handled == READ_BATCH || paused.is_some() {
                            break;
                        }
                        match stream.next().now_or_never() {
                            Some(next) => frame = next,
                            None => break,
                        }
                    }
                    if paused.is_none() && rx.crowded() {
                        // Our own replies pile up: a client that sends without reading.
                        paused = Some(rx.space());
                    }
                    if paused.is_some() {
                        rx.set_paused(true);
                    }
                }
            }
        }
    };
    registry.leave(id, reason);
    let mut ws = sink;
    if let Some(frame) = close {
        // Best effort, bounded: write what was already queued (an emergency stop's zeros
        // just before shutdown, the 403 before a 1007), then close. A stuck peer simply
        // runs out the timeout.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(m) = rx.try_recv() {
                if ws.feed(m).await.is_err() {
                    return;
                }
            }
            let _ = ws.send(Message::Close(Some(frame))).await;
            let _ = ws.close().await;
        })
        .await;
    } else if answer_close {
        // The client closed: tungstenite has queued the echo of its Close frame; write it,
        // or the client sees 1006 (abnormal closure) instead of a clean close.
        let _ = tokio::time::timeout(CLOSE_GRACE, ws.close()).await;
    }
}

/// Time the goodbye (queued frames, then the Close frame) may take.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

async fn wait_space(space: &Option<queue::Space>) {
    match space {
        Some(s) => s.wait().await,
        None => std::future::pending().await,
    }
}

/// Writes the outbound queue until it closes or the socket fails; returns why it ended.
async fn write_loop<S>(sink: &mut S, rx: &queue::Receiver, stall: Duration) -> &'static str
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    loop {
        let Some(first) = rx.recv().await else {
            return "closed";
        };
        match tokio::time::timeout(stall, write_batch(sink, first, rx)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return "write failed",
            // The peer has not taken a single batch for that long: it stopped reading.
            Err(_) => return "too slow",
        }
    }
}

/// What ends a connection: the reason and the Close frame to send, if any.
type End = (&'static str, Option<CloseFrame>);

/// Handles one read result. `Err` ends the connection; `Ok(Some(space))` means a queue the
/// frame went to is crowded, and reading should wait for room on it.
fn on_frame(
    id: uuid::Uuid,
    registry: &Registry,
    frame: Option<Result<Message, WsError>>,
) -> Result<Option<queue::Space>, End> {
    match frame {
        Some(Ok(Message::Text(text))) => return Ok(registry.handle_text(id, &text)),
        Some(Ok(Message::Binary(_))) => {
            registry.reject(id, Code::NotJson, "binary frame".into());
        }
        Some(Ok(Message::Pong(_))) => registry.pong(id),
        // tungstenite queues the pong itself; it goes out with the next read or write.
        Some(Ok(Message::Ping(_))) | Some(Ok(Message::Frame(_))) => {}
        Some(Ok(Message::Close(_))) | None => return Err(("closed", None)),
        Some(Err(WsError::Capacity(e))) => {
            if logline::enabled(log::Level::Info) {
                logline::line(
                    log::Level::Info,
                    format!("{id}: frame too large ({e}), closing with 1009"),
                );
            }
            let frame = CloseFrame {
                code: CloseCode::Size,
                reason: "frame too large".into(),
            };
            return Err(("frame too large", Some(frame)));
        }
        Some(Err(WsError::Utf8(_))) => {
            // RFC 6455 requires closing on invalid UTF-8 (1007); answer 403 first (it is
            // written before the close) so a client sees why.
            registry.reject(id, Code::NotJson, "invalid UTF-8".into());
            let frame = CloseFrame {
                code: CloseCode::Invalid,
                reason: "invalid UTF-8".into(),
            };
            return Err(("invalid UTF-8", Some(frame)));
        }
        Some(Err(e)) => {
            if logline::enabled(log::Level::Debug) {
                logline::line(log::Level::Debug, format!("{id}: read error: {e}"));
            }
            return Err(("read error", None));
        }
    }
    Ok(None)
}

async fn write_batch<S>(ws: &mut S, first: Message, rx: &queue::Receiver) -> Result<(), WsError>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    ws.feed(first).await?;
    for _ in 1..WRITE_BATCH {
        match rx.try_recv() {
            Some(m) => ws.feed(m).await?,
            None => break,
        }
    }
    ws.flush().await
}
