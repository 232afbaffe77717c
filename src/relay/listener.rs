//! Accepts TCP connections, admits them by the connection policy, upgrades them to
//! WebSocket and spawns one tracked task each.
//!
//! The policy (see [`RelayConfig`]): a global cap, a per-address limit, and a reserve of
//! slots that only addresses holding fewer than `RESERVE_SHARE` (src/relay/config.rs) connections may take; a
//! refused connection gets a 503 and is closed at once. The upgrade is read here rather
//! than by tungstenite, so that a plain HTTP request gets an answer instead of a silent
//! close: the phone reachability page for `GET /` or `GET /check` (a phone's browser
//! proving it reaches us), 426 for another GET that is not an upgrade (the App's path in a
//! browser), 405 for another method, 400 for what is not HTTP; and the whole of it runs
//! under the handshake deadline.

use super::admission::{admit, Refusal, SharedCounts};
use super::config::RelayConfig;
use super::event::RelayEvent;
use super::logline;
use super::peer;
use super::registry::Registry;
use crate::pairing::check::{self, PageLanguage};
use futures_util::StreamExt;
use log::Level;
use std::net::SocketAddr;
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

/// Refusals are logged at most once per this interval, counted in between.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Everything the accept loop needs; owned by its task.
pub(crate) struct Listener {
    pub(crate) listener: TcpListener,
    /// Shared by every listener of one relay, so the caps hold across all its addresses.
    pub(crate) counts: SharedCounts,
    pub(crate) registry: Registry,
    pub(crate) config: RelayConfig,
    pub(crate) tracker: TaskTracker,
    pub(crate) shutdown: CancellationToken,
}

/// Refusals since the last log line about them.
#[derive(Default)]
struct Refusals {
    last_logged: Option<Instant>,
    cap: u64,
    reserve: u64,
    per_address: u64,
    last_addr: Option<SocketAddr>,
}

impl Refusals {
    fn count(&mut self, why: Refusal, addr: SocketAddr, config: &RelayConfig) {
        match why {
            Refusal::Cap => self.cap += 1,
            Refusal::Reserve => self.reserve += 1,
            Refusal::PerAddress => self.per_address += 1,
        }
        self.last_addr = Some(addr);
        let due = self
            .last_logged
            .is_none_or(|t| t.elapsed() >= REFUSAL_LOG_EVERY);
        if due {
            self.flush(config);
        }
    }

    fn flush(&mut self, config: &RelayConfig) {
        let n = self.cap + self.reserve + self.per_address;
        if n == 0 {
            return;
        }
        if logline::enabled(Level::Warn) {
            logline::line(
                Level::Warn,
                format!(
                    "refused {n} connection(s) (last from {}): {} at the cap of {}, {} for the \
                     reserve of {}, {} over a per-address limit",
                    self.last_addr.map(|a| a.to_string()).unwrap_or_default(),
                    self.cap,
                    config.max_connections,
                    self.reserve,
                    config.reserved_connections,
                    self.per_address
                ),
            );
        }
        *self = Refusals {
            last_logged: Some(Instant::now()),
            ..Refusals::default()
        };
    }
}

impl Listener {
    pub(crate) async fn run(self) {
        let counts = self.counts.clone();
        let mut refusals = Refusals::default();
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
                    logline::line(
                        Level::Warn,
                        format!("accept failed: {e}; retrying in {backoff:?}"),
                    );
                    tokio::select! {
                        _ = self.shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let slot = match admit(&self.config, &counts, addr.ip()) {
                Ok(slot) => slot,
                Err(why) => {
                    // Best effort and never waiting: a fresh socket has room for this.
                    let _ = stream.try_write(
                        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
                          Content-Length: 0\r\n\r\n",
                    );
                    drop(stream);
                    refusals.count(why, addr, &self.config);
                    continue;
                }
            };
            let registry = self.registry.clone();
            let cancel = self.shutdown.child_token();
            let queue = self.config.outbound_queue;
            let stall = self.config.ping_timeout;
            let handshake_timeout = self.config.handshake_timeout;
            if let Some(size) = self.config.send_buffer_size {
                let _ = socket2::SockRef::from(&stream).set_send_buffer_size(size);
            }
            self.tracker.spawn(async move {
                let _slot = slot;
                let _ = stream.set_nodelay(true);
                let ws = match handshake(
                    stream,
                    ws_config,
                    handshake_timeout,
                    &cancel,
                    addr,
                    &registry,
                )
                .await
                {
                    Ok(ws) => ws,
                    Err(why) => {
                        if logline::enabled(Level::Debug) {
                            logline::line(Level::Debug, format!("{addr}: no WebSocket: {why}"));
                        }
                        return;
                    }
                };
                peer::serve(ws.split(), registry, Some(addr), queue, stall, cancel).await;
            });
        }
        refusals.flush(&self.config);
    }
}

async fn handshake(
    stream: TcpStream,
    config: WebSocketConfig,
    limit: Duration,
    cancel: &CancellationToken,
    from: SocketAddr,
    registry: &Registry,
) -> Result<WebSocketStream<TcpStream>, &'static str> {
    tokio::select! {
        _ = cancel.cancelled() => Err("relay shutting down"),
        r = tokio::time::timeout(limit, upgrade(stream, config, from, registry)) => {
            r.unwrap_or(Err("handshake deadline passed"))
        }
    }
}

/// What the request head asks for.
enum Head {
    /// A valid WebSocket upgrade, with its `Sec-WebSocket-Key`.
    Upgrade(String),
    /// A plain `GET /` or `GET /check`: the phone reachability page.
    Page {
        lang: PageLanguage,
        /// Escaped and cut (peer text, bound for events).
        user_agent: Option<String>,
    },
    /// Anything else: the status line and extra headers to answer with, and what was asked.
    Refuse {
        status: &'static str,
        extra: &'static str,
        request: Request,
    },
}

/// What a refused request asked for, escaped and cut (peer text, bound for events).
#[derive(Default)]
struct Request {
    method: String,
    path: String,
}

impl Head {
    fn refuse(status: &'static str, extra: &'static str, request: Request) -> Head {
        Head::Refuse {
            status,
            extra,
            request,
        }
    }
}

/// Reads the request head and answers it: 101 and a WebSocket, the phone page, or an HTTP
/// error status. The App connects to `ws://host:port/<terminal id>`, so every path is
/// accepted for an upgrade. Each answer that is not an upgrade becomes an event (the
/// window lists the last phone attempts) and, when someone watches, an inspector record.
async fn upgrade(
    mut stream: TcpStream,
    config: WebSocketConfig,
    from: SocketAddr,
    registry: &Registry,
) -> Result<WebSocketStream<TcpStream>, &'static str> {
    let mut buf = Vec::with_capacity(1024);
    let (head, len) = loop {
        if buf.len() >= MAX_HEAD {
            break (
                Head::refuse(
                    "431 Request Header Fields Too Large",
                    "",
                    Request::default(),
                ),
                buf.len(),
            );
        }
        // Into the Vec's spare room: no buffer array in this future (it would cost every
        // connection's task its size for as long as the connection lives).
        buf.reserve(1024.min(MAX_HEAD - buf.len()));
        let n = stream.read_buf(&mut buf).await.map_err(|_| "read failed")?;
        if n == 0 {
            return Err("closed before the request ended");
        }
        match parse_head(&buf) {
            Some(done) => break done,
            None => continue,
        }
    };
    let key = match head {
        Head::Upgrade(key) => key,
        Head::Page { lang, user_agent } => {
            let body = check::phone_page(lang);
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Language: {}\r\nVary: Accept-Language\r\nCache-Control: no-store\r\n\
                 {}: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                lang.tag(),
                check::CHECK_HEADER,
                check::CHECK_HEADER_VALUE,
                body.len()
            );
            answer_and_close(&mut stream, &mut buf, resp.as_bytes()).await;
            registry.emit(RelayEvent::Reached { from, user_agent });
            return Err("phone check page served");
        }
        Head::Refuse {
            status,
            extra,
            request,
        } => {
            let body = format!("{status}: this is a DG-LAB SOCKET v2 (WebSocket) relay\n");
            let resp = format!(
                "HTTP/1.1 {status}\r\n{extra}Connection: close\r\nContent-Type: text/plain\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            answer_and_close(&mut stream, &mut buf, resp.as_bytes()).await;
            let code = status
                .split(' ')
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(400);
            registry.http_refused(from, code, request.method, request.path);
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
    // Whatever the client sent after the head (its first frames) is the stream's start.
    let rest = buf.split_off(len);
    Ok(WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(config)).await)
}

/// Writes a whole HTTP answer and closes the connection.
async fn answer_and_close(stream: &mut TcpStream, buf: &mut Vec<u8>, resp: &[u8]) {
    let _ = stream.write_all(resp).await;
    let _ = stream.shutdown().await;
    // Read what the client still sends for a moment, so closing does not reset the
    // connection before it has read the answer.
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        buf.clear();
        while matches!(stream.read_buf(buf).await, Ok(n) if n > 0) {
            buf.clear();
        }
    })
    .await;
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
                Head::refuse(
                    "431 Request Header Fields Too Large",
                    "",
                    Request::default(),
                ),
                buf.len(),
            ))
        }
        Err(_) => {
            return Some((
                Head::refuse("400 Bad Request", "", Request::default()),
                buf.len(),
            ))
        }
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
    let target = req.path.unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let request = || Request {
        method: logline::escape(req.method.unwrap_or(""), 16),
        path: logline::escape(path, logline::MAX_ID_CHARS),
    };
    let head = if req.method != Some("GET") {
        Head::refuse("405 Method Not Allowed", "Allow: GET\r\n", request())
    } else if !has_token("Upgrade", "websocket") {
        if check::is_check_path(path) {
            Head::Page {
                lang: check::page_language(header("Accept-Language")),
                user_agent: header("User-Agent")
                    .map(|ua| logline::escape(ua, 2 * logline::MAX_ID_CHARS)),
            }
        } else {
            Head::refuse("426 Upgrade Required", "Upgrade: websocket\r\n", request())
        }
    } else if header("Sec-WebSocket-Version").map(str::trim) != Some("13") {
        Head::refuse(
            "426 Upgrade Required",
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
            request(),
        )
    } else if !has_token("Connection", "upgrade") {
        Head::refuse("400 Bad Request", "", request())
    } else {
        match header("Sec-WebSocket-Key").map(str::trim) {
            Some(key) if !key.is_empty() => Head::Upgrade(key.to_owned()),
            _ => Head::refuse("400 Bad Request", "", request()),
        }
    };
    Some((head, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_answered_by_what_they_ask() {
        let ok = b"GET /abc HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        assert!(
            matches!(parse_head(ok), Some((Head::Upgrade(k), n)) if k == "dGhlIHNhbXBsZSBub25jZQ==" && n == ok.len())
        );
        assert!(parse_head(&ok[..20]).is_none());
        let status = |b: &[u8]| match parse_head(b) {
            Some((Head::Refuse { status, .. }, _)) => status,
            Some((Head::Page { .. }, _)) => "page",
            _ => "upgrade",
        };
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"), "page");
        assert_eq!(
            status(b"GET /check?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"),
            "page"
        );
        assert!(status(b"GET /abc HTTP/1.1\r\nHost: h\r\n\r\n").starts_with("426"));
        assert!(status(b"POST / HTTP/1.1\r\nHost: h\r\n\r\n").starts_with("405"));
        assert!(status(b"\x16\x03\x01\x02\x00\r\n\r\n").starts_with("400"));
    }
}
