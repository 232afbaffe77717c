//! Accepts TCP connections for the V4 relay, admits them by the same policy as the
//! SOCKET v2 relay (global cap, per-address limit, reserve for addresses holding little;
//! 503 otherwise), reads the upgrade request under the handshake deadline and decides the
//! role from it (§2): paths `/`, `/v4` and `/v4/` upgrade; `?tid=` (or the older
//! `?targetId=`; `tid` wins) makes an App, no target a controller. Other paths get 404,
//! plain HTTP 426, what is not HTTP 400.
//!
//! Admission is src/relay/admission.rs, as for SOCKET v2; a V4 relay counts its own
//! connections.

use super::conn;
use super::hub::Hub;
use crate::relay::admission::{admit, SharedCounts};
use crate::relay::logline;
use log::Level;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest upgrade request head accepted.
const MAX_HEAD: usize = 8 * 1024;

/// Refusals are logged at most once per this interval.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Everything the accept loop needs; owned by its task.
pub(crate) struct Listener {
    pub(crate) listener: TcpListener,
    /// Shared by every listener of one relay, so the limits hold across its addresses.
    pub(crate) counts: SharedCounts,
    pub(crate) hub: Hub,
    pub(crate) config: super::V4Config,
    pub(crate) tracker: TaskTracker,
    pub(crate) shutdown: CancellationToken,
}

impl Listener {
    pub(crate) async fn run(self) {
        let counts = self.counts.clone();
        let limits = &self.config.limits;
        let mut ws_config = WebSocketConfig::default();
        ws_config.read_buffer_size = limits.read_buffer_size;
        ws_config.max_message_size = Some(limits.max_message_size);
        ws_config.max_frame_size = Some(limits.max_message_size);
        let mut backoff = Duration::from_millis(5);
        let (mut refused, mut last_log): (u64, Option<Instant>) = (0, None);
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
                    logline::line(
                        Level::Warn,
                        format!("V4 accept failed: {e}; retrying in {backoff:?}"),
                    );
                    tokio::select! {
                        _ = self.shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let Ok(slot) = admit(limits, &counts, addr.ip()) else {
                let _ = stream.try_write(
                    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
                      Content-Length: 0\r\n\r\n",
                );
                drop(stream);
                refused += 1;
                if last_log.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_EVERY) {
                    logline::line(
                        Level::Warn,
                        format!(
                            "V4: refused {refused} connection(s) (last from {addr}) over the \
                             connection limits"
                        ),
                    );
                    (refused, last_log) = (0, Some(Instant::now()));
                }
                continue;
            };
            if let Some(size) = limits.send_buffer_size {
                let _ = socket2::SockRef::from(&stream).set_send_buffer_size(size);
            }
            let hub = self.hub.clone();
            let shutdown = self.shutdown.clone();
            let handshake_timeout = limits.handshake_timeout;
            let settings = conn::Settings {
                queue: limits.outbound_queue,
                stall: limits.ping_timeout,
            };
            self.tracker.spawn(async move {
                let _slot = slot;
                let _ = stream.set_nodelay(true);
                let upgraded = tokio::select! {
                    _ = shutdown.cancelled() => Err("relay shutting down"),
                    r = tokio::time::timeout(handshake_timeout, upgrade(stream, ws_config)) => {
                        r.unwrap_or(Err("handshake deadline passed"))
                    }
                };
                match upgraded {
                    Ok((ws, tid)) => {
                        conn::serve(ws, hub, addr, tid, settings, shutdown).await;
                    }
                    Err(why) => {
                        if logline::enabled(Level::Debug) {
                            logline::line(Level::Debug, format!("V4 {addr}: no WebSocket: {why}"));
                        }
                    }
                }
            });
        }
    }
}

/// What the request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// A valid WebSocket upgrade: its `Sec-WebSocket-Key` and the target it names, if any
    /// (an App).
    Upgrade(String, Option<String>),
    /// Anything else: the status line and extra headers to answer with.
    Refuse(&'static str, &'static str),
}

/// Reads the request head and answers it: 101 and a WebSocket, or an HTTP error status.
async fn upgrade(
    mut stream: TcpStream,
    config: WebSocketConfig,
) -> Result<(WebSocketStream<TcpStream>, Option<String>), &'static str> {
    let mut buf = Vec::with_capacity(1024);
    let (head, len) = loop {
        if buf.len() >= MAX_HEAD {
            break (
                Head::Refuse("431 Request Header Fields Too Large", ""),
                buf.len(),
            );
        }
        buf.reserve(1024.min(MAX_HEAD - buf.len()));
        let n = stream.read_buf(&mut buf).await.map_err(|_| "read failed")?;
        if n == 0 {
            return Err("closed before the request ended");
        }
        if let Some(done) = parse_head(&buf) {
            break done;
        }
    };
    let (key, tid) = match head {
        Head::Upgrade(key, tid) => (key, tid),
        Head::Refuse(status, extra) => {
            let body =
                format!("{status}: this is a DG-LAB V4 (WebSocket) relay; connect to / or /v4\n");
            let resp = format!(
                "HTTP/1.1 {status}\r\n{extra}Connection: close\r\nContent-Type: text/plain\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(resp.as_bytes()).await;
            let _ = stream.shutdown().await;
            // Let the client read the answer before the socket goes.
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                buf.clear();
                while matches!(stream.read_buf(&mut buf).await, Ok(n) if n > 0) {
                    buf.clear();
                }
            })
            .await;
            return Err(status);
        }
    };
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    stream
        .write_all(resp.as_bytes())
        .await
        .map_err(|_| "write failed")?;
    let rest = buf.split_off(len);
    let ws = WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(config)).await;
    Ok((ws, tid))
}

/// The target of an upgrade at `target` (path and query), or `Err` for a path that is
/// not ours. `Ok(None)`: a controller; `Ok(Some(tid))`: an App. `tid` wins over
/// `targetId`; an empty value counts as none (§2).
fn route(target: &str) -> Result<Option<String>, ()> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !matches!(path, "/" | "/v4" | "/v4/") {
        return Err(());
    }
    let value = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v.to_owned())
    };
    Ok(value("tid").or_else(|| value("targetId")))
}

/// Parses a request head; `None` while it is incomplete.
fn parse_head(buf: &[u8]) -> Option<(Head, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return None,
        Err(httparse::Error::TooManyHeaders) => {
            return Some((
                Head::Refuse("431 Request Header Fields Too Large", ""),
                buf.len(),
            ))
        }
        Err(_) => return Some((Head::Refuse("400 Bad Request", ""), buf.len())),
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let target = route(req.path.unwrap_or(""));
    let head = if req.method != Some("GET") {
        Head::Refuse("405 Method Not Allowed", "Allow: GET\r\n")
    } else if target.is_err() {
        Head::Refuse("404 Not Found", "")
    } else if !has_token("Upgrade", "websocket") {
        Head::Refuse("426 Upgrade Required", "Upgrade: websocket\r\n")
    } else if header("Sec-WebSocket-Version").map(str::trim) != Some("13") {
        Head::Refuse(
            "426 Upgrade Required",
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
        )
    } else if !has_token("Connection", "upgrade") {
        Head::Refuse("400 Bad Request", "")
    } else {
        match header("Sec-WebSocket-Key").map(str::trim) {
            Some(key) if !key.is_empty() => Head::Upgrade(key.to_owned(), target.ok().flatten()),
            _ => Head::Refuse("400 Bad Request", ""),
        }
    };
    Some((head, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_decide_the_role() {
        assert_eq!(route("/"), Ok(None));
        assert_eq!(route("/v4"), Ok(None));
        assert_eq!(route("/v4/"), Ok(None));
        assert_eq!(route("/v4?tid=3f9a1c07"), Ok(Some("3f9a1c07".into())));
        assert_eq!(route("/v4/?tid=3f9a1c07"), Ok(Some("3f9a1c07".into())));
        assert_eq!(route("/?targetId=3f9a1c07"), Ok(Some("3f9a1c07".into())));
        assert_eq!(
            route("/?targetId=aaaaaaaa&tid=bbbbbbbb"),
            Ok(Some("bbbbbbbb".into()))
        );
        assert_eq!(
            route("/?tid=&targetId=aaaaaaaa"),
            Ok(Some("aaaaaaaa".into()))
        );
        assert_eq!(route("/?tid="), Ok(None));
        assert_eq!(route("/v5"), Err(()));
        assert_eq!(route("/3f9a1c07"), Err(()));
        assert_eq!(route("/v4/x?tid=1"), Err(()));
    }

    #[test]
    fn heads_are_answered_by_what_they_ask() {
        let up = |path: &str| {
            format!(
                "GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
        };
        let head = |b: &str| parse_head(b.as_bytes()).map(|(h, _)| h);
        assert_eq!(
            head(&up("/v4?tid=3f9a1c07")),
            Some(Head::Upgrade(
                "dGhlIHNhbXBsZSBub25jZQ==".into(),
                Some("3f9a1c07".into())
            ))
        );
        assert!(matches!(head(&up("/nope")), Some(Head::Refuse(s, _)) if s.starts_with("404")));
        assert!(matches!(
            head("GET /v4 HTTP/1.1\r\nHost: h\r\n\r\n"),
            Some(Head::Refuse(s, _)) if s.starts_with("426")
        ));
    }
}
