//! One V4 socket's life: joining the hub (which queues `hello`), reading frames, writing
//! its bounded queue, ending.
//!
//! As in the SOCKET v2 relay: one task per socket selects between the socket, its queue
//! and the cancel token; a write batch stuck for `stall` drops the socket as "too slow";
//! whoever fills a crowded queue is not read until it drains. How it ends:
//! - the relay closes it (4000/4001/4002): the hub queues the notice and the close frame
//!   and drops its sender; the writer drains them and stops; we wait briefly for the
//!   client's close reply;
//! - the relay terminates it (no pong, too slow): the cancel token, no close frame;
//! - the relay shuts down: what is queued, then close 1001;
//! - the client closes or fails: the hub cascades (§4.6).

use super::hub::Hub;
use crate::relay::{logline, queue};
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// Most queued frames written before one flush.
const WRITE_BATCH: usize = 64;
/// Most already-buffered frames read in one go.
const READ_BATCH: usize = 32;
/// Time the goodbye (queued frames, the close frame, the client's reply) may take.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Per-socket settings from the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) queue: usize,
    pub(crate) stall: Duration,
}

/// Serves one upgraded socket until it ends. `tid`: the target it named (an App).
pub(crate) async fn serve(
    ws: WebSocketStream<TcpStream>,
    hub: Hub,
    remote: SocketAddr,
    tid: Option<String>,
    settings: Settings,
    shutdown: CancellationToken,
) {
    let (mut sink, mut stream) = ws.split();
    let (tx, rx) = queue::bounded(settings.queue);
    let cancel = shutdown.child_token();
    let (id, serial) = hub.join_socket(tx, Some(remote), tid.as_deref(), cancel.clone());
    let mut close: Option<CloseFrame> = None;
    let mut linger = false;
    let reason: &'static str = {
        let writer = write_loop(&mut sink, &rx, settings.stall);
        tokio::pin!(writer);
        let mut paused: Option<queue::Space> = None;
        'serve: loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    if shutdown.is_cancelled() {
                        // Leave first (that closes the queue), then let the writer finish
                        // what it holds: frames it already took from the queue (an
                        // emergency stop queued just before) must not be lost.
                        hub.leave(id, serial, "shutdown");
                        let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer).await;
                        close = Some(CloseFrame { code: CloseCode::Away, reason: "relay closing".into() });
                        // And read on until the peer hangs up (bounded): a reset could
                        // discard the stop before an App has read it.
                        linger = true;
                        break 'serve "shutdown";
                    }
                    // Terminated by the hub (no pong, too slow): no close frame.
                    break 'serve "terminated";
                }
                end = &mut writer => {
                    // "closed": the hub removed us after queueing the close frame.
                    linger = end == "closed";
                    break 'serve end;
                }
                _ = wait_space(&paused), if paused.is_some() => {
                    paused = None;
                    rx.set_paused(false);
                }
                frame = stream.next(), if paused.is_none() => {
                    rx.heard();
                    let mut frame = frame;
                    let mut handled = 0;
                    loop {
                        match on_frame(id, serial, &hub, frame) {
                            Ok(Some(space)) => paused = Some(space),
                            Ok(None) => {}
                            Err((why, frame)) => {
                                close = frame;
                                linger = why == "closed";
                                break 'serve why;
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
                        paused = Some(rx.space());
                    }
                    if paused.is_some() {
                        rx.set_paused(true);
                    }
                }
            }
        }
    };
    hub.leave(id, serial, reason);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if let Some(frame) = close {
            while let Some(m) = rx.try_recv() {
                if sink.feed(m).await.is_err() {
                    return;
                }
            }
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        if linger {
            // Our close frame is out (or theirs came in): flush the reply and read until
            // the client hangs up, so it sees a clean close rather than a reset.
            let _ = sink.close().await;
            while let Some(Ok(_)) = stream.next().await {}
        }
    })
    .await;
}

async fn wait_space(space: &Option<queue::Space>) {
    match space {
        Some(s) => s.wait().await,
        None => std::future::pending().await,
    }
}

/// Writes the queue until it closes or the socket fails; returns why it ended.
async fn write_loop<S>(sink: &mut S, rx: &queue::Receiver, stall: Duration) -> &'static str
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    loop {
        let Some(first) = rx.recv().await else {
            return "closed";
        };
        let batch = async {
            sink.feed(first).await?;
            for _ in 1..WRITE_BATCH {
                match rx.try_recv() {
                    Some(m) => sink.feed(m).await?,
                    None => break,
                }
            }
            sink.flush().await
        };
        match tokio::time::timeout(stall, batch).await {
            Ok(Ok(())) => {}
            // After our close frame, tungstenite refuses more: that is the end we queued.
            Ok(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => return "closed",
            Ok(Err(_)) => return "write failed",
            Err(_) => return "too slow",
        }
    }
}

/// What ends a connection: the reason and the close frame to send, if any.
type End = (&'static str, Option<CloseFrame>);

fn on_frame(
    id: super::V4Id,
    serial: u64,
    hub: &Hub,
    frame: Option<Result<Message, WsError>>,
) -> Result<Option<queue::Space>, End> {
    match frame {
        Some(Ok(Message::Text(text))) => return Ok(hub.handle_text(id, &text)),
        Some(Ok(Message::Binary(_))) => {
            if logline::enabled(log::Level::Debug) {
                logline::line(
                    log::Level::Debug,
                    format!("V4 {id}: ignored a binary frame"),
                );
            }
        }
        Some(Ok(Message::Pong(_))) => hub.pong(id, serial),
        // tungstenite answers pings itself.
        Some(Ok(Message::Ping(_) | Message::Frame(_))) => {}
        Some(Ok(Message::Close(_))) | None => return Err(("closed", None)),
        Some(Err(WsError::Capacity(e))) => {
            if logline::enabled(log::Level::Info) {
                logline::line(
                    log::Level::Info,
                    format!("V4 {id}: frame too large ({e}), closing with 1009"),
                );
            }
            let frame = CloseFrame {
                code: CloseCode::Size,
                reason: "frame too large".into(),
            };
            return Err(("frame too large", Some(frame)));
        }
        Some(Err(WsError::Utf8(_))) => {
            let frame = CloseFrame {
                code: CloseCode::Invalid,
                reason: "invalid UTF-8".into(),
            };
            return Err(("invalid UTF-8", Some(frame)));
        }
        Some(Err(e)) => {
            if logline::enabled(log::Level::Debug) {
                logline::line(log::Level::Debug, format!("V4 {id}: read error: {e}"));
            }
            return Err(("read error", None));
        }
    }
    Ok(None)
}
