//! One socket's life: greeting, reading frames, writing its queue, ending cleanly.
//!
//! A single task per socket selects between the socket, its outbound queue and the cancel
//! token: one small future per idle socket, no second task. It is generic over the
//! WebSocket `Stream + Sink`, so its logic can be tested on in-memory channels.

use super::event::Role;
use super::queue;
use super::registry::{Outbox, Registry};
use crate::protocol::codec;
use crate::protocol::Code;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

/// Most queued frames written before one flush: batches syscalls under load without
/// letting one busy peer hog its task.
const WRITE_BATCH: usize = 64;

/// Serves one WebSocket until it closes, fails, falls behind or the relay shuts down.
pub(crate) async fn serve<S>(
    mut ws: S,
    registry: Registry,
    remote: Option<SocketAddr>,
    queue: usize,
    cancel: CancellationToken,
) where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    let (tx, rx) = queue::bounded(queue);
    let id = registry.join(Outbox::Socket(tx), remote, Role::Unknown, cancel.clone());
    let mut close: Option<CloseFrame> = None;
    let reason: &'static str = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                close = Some(CloseFrame { code: CloseCode::Away, reason: "relay closing connection".into() });
                break "shutdown";
            }
            out = rx.recv() => {
                let Some(first) = out else { break "closed" };
                if write_batch(&mut ws, first, &rx).await.is_err() {
                    break "write failed";
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => match codec::decode(&text) {
                    Ok(inbound) => registry.handle(id, inbound),
                    Err(e) => registry.reject(id, e.code(), e.to_string()),
                },
                Some(Ok(Message::Binary(_))) => {
                    registry.reject(id, Code::NotJson, "binary frame".into());
                }
                Some(Ok(Message::Pong(_))) => registry.pong(id),
                // tungstenite queues the pong itself; it goes out with the next read or write.
                Some(Ok(Message::Ping(_))) | Some(Ok(Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => break "closed",
                Some(Err(WsError::Capacity(e))) => {
                    log::info!("{id}: frame too large ({e}), closing with 1009");
                    close = Some(CloseFrame { code: CloseCode::Size, reason: "frame too large".into() });
                    break "frame too large";
                }
                Some(Err(WsError::Utf8(_))) => {
                    // RFC 6455 requires closing on invalid UTF-8 (1007); answer 403 first so
                    // a client sees why.
                    registry.reject(id, Code::NotJson, "invalid UTF-8".into());
                    close = Some(CloseFrame { code: CloseCode::Invalid, reason: "invalid UTF-8".into() });
                    break "invalid UTF-8";
                }
                Some(Err(e)) => {
                    log::debug!("{id}: read error: {e}");
                    break "read error";
                }
            }
        }
    };
    registry.leave(id, reason);
    if let Some(frame) = close {
        // Best effort, bounded: write what was already queued (an emergency stop's zeros
        // just before shutdown, the 403 before a 1007), then close. A stuck peer simply
        // runs out the timeout.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while let Some(m) = rx.try_recv() {
                if ws.feed(m).await.is_err() {
                    return;
                }
            }
            let _ = ws.send(Message::Close(Some(frame))).await;
            let _ = ws.close().await;
        })
        .await;
    }
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
