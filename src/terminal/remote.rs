//! The same [`Terminal`] over a WebSocket client to another relay: the vendor's public one,
//! or `dglab-relay` on another machine.

use super::{channel, EventSink, Link, Terminal, TerminalEvents};
use crate::protocol::codec::{self, Inbound};
use crate::protocol::{MessageType, TARGET_ID_MESSAGE};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Frames a remote terminal may have queued before commands report `Busy`.
const SEND_QUEUE: usize = 256;

/// How long the relay has to hand out our id.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

/// Why [`connect`] could not join the relay.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The WebSocket connection or handshake failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// The relay did not hand out an id in time, or closed first.
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

/// Connects to the relay at `url` (`ws://host:port`), waits for the id it hands out and
/// returns the terminal. Pair it by showing `terminal.pairing_url(url)` to the App.
///
/// # Errors
/// Connection and handshake failures, or no greeting within 10 s.
pub async fn connect(url: &str) -> Result<(Terminal, TerminalEvents), ConnectError> {
    // Nagle off: commands are small and latency is what the user feels.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .map_err(|e| ConnectError::WebSocket(Box::new(e)))?;
    let id = tokio::time::timeout(GREETING_TIMEOUT, async {
        while let Some(frame) = ws.next().await {
            let frame = frame.map_err(|e| ConnectError::WebSocket(Box::new(e)))?;
            let Message::Text(text) = frame else { continue };
            if let Ok(Inbound::Envelope(env)) = codec::decode(&text) {
                if env.kind == MessageType::Bind && env.message == TARGET_ID_MESSAGE {
                    if let Ok(id) = Uuid::parse_str(&env.client_id) {
                        return Ok(id);
                    }
                }
            }
        }
        Err(ConnectError::Timeout(
            "relay closed before handing out an id",
        ))
    })
    .await
    .map_err(|_| ConnectError::Timeout("relay greeting"))??;
    let (sink, state, events) = channel();
    let (tx, rx) = mpsc::channel(SEND_QUEUE);
    let stop = CancellationToken::new();
    tokio::spawn(run(ws, rx, sink, stop.clone()));
    Ok((Terminal::new(id, Link::Remote { tx, stop }, state), events))
}

async fn run<S>(
    mut ws: S,
    mut rx: mpsc::Receiver<Message>,
    sink: EventSink,
    stop: CancellationToken,
) where
    S: futures_util::Stream<
            Item = std::result::Result<Message, tokio_tungstenite::tungstenite::Error>,
        > + futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + Unpin,
{
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                let _ = ws.close().await;
                break;
            }
            out = rx.recv() => {
                let Some(m) = out else { break };
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => match codec::decode(&text) {
                    Ok(Inbound::Envelope(env)) => {
                        if !sink.push(env) {
                            // Nobody listens: keep the link for commands anyway.
                        }
                    }
                    _ => log::debug!("remote terminal: ignoring undecodable frame"),
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    sink.closed();
}
