//! Accepts TCP connections, upgrades them to WebSocket and spawns one tracked task each.

use super::config::RelayConfig;
use super::peer;
use super::registry::Registry;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Everything the accept loop needs; owned by its task.
pub(crate) struct Listener {
    pub(crate) listener: TcpListener,
    pub(crate) registry: Registry,
    pub(crate) config: RelayConfig,
    pub(crate) tracker: TaskTracker,
    pub(crate) shutdown: CancellationToken,
}

/// Counts live connection tasks (handshakes included) for the connection cap.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Listener {
    pub(crate) async fn run(self) {
        let live = Arc::new(AtomicUsize::new(0));
        let mut ws_config = WebSocketConfig::default();
        ws_config.read_buffer_size = self.config.read_buffer_size;
        ws_config.max_message_size = Some(self.config.max_message_size);
        ws_config.max_frame_size = Some(self.config.max_message_size);
        let mut backoff = Duration::from_millis(5);
        loop {
            let accepted = tokio::select! {
                _ = self.shutdown.cancelled() => break,
                r = self.listener.accept() => r,
            };
            let (stream, addr) = match accepted {
                Ok(pair) => {
                    backoff = Duration::from_millis(5);
                    pair
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    log::warn!("accept failed: {e}; retrying in {backoff:?}");
                    tokio::select! {
                        _ = self.shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            if live.load(Ordering::Relaxed) >= self.config.max_connections {
                log::warn!(
                    "refusing {addr}: {} connections open (the cap; raise max_connections)",
                    self.config.max_connections
                );
                drop(stream);
                continue;
            }
            live.fetch_add(1, Ordering::Relaxed);
            let slot = Slot(live.clone());
            let registry = self.registry.clone();
            let cancel = self.shutdown.child_token();
            let queue = self.config.outbound_queue;
            let handshake_timeout = self.config.handshake_timeout;
            self.tracker.spawn(async move {
                let _slot = slot;
                let _ = stream.set_nodelay(true);
                let Some(ws) = handshake(stream, ws_config, handshake_timeout, &cancel).await
                else {
                    log::debug!("{addr}: WebSocket handshake failed");
                    return;
                };
                peer::serve(ws, registry, Some(addr), queue, cancel).await;
            });
        }
    }
}

async fn handshake(
    stream: TcpStream,
    config: WebSocketConfig,
    limit: Duration,
    cancel: &CancellationToken,
) -> Option<tokio_tungstenite::WebSocketStream<TcpStream>> {
    // The App connects to ws://host:port/<terminal id>: tungstenite's plain accept takes
    // every request path, which is what we want.
    let fut = tokio_tungstenite::accept_async_with_config(stream, Some(config));
    tokio::select! {
        _ = cancel.cancelled() => None,
        r = tokio::time::timeout(limit, fut) => r.ok()?.ok(),
    }
}
