//! Game-Hub's MCP transport (the 2024-11-05 "HTTP+SSE" one), kept at its paths so the
//! URL its UI told users to paste, `<base>/api/mcp/<clientId>`, still works.
//!
//! `GET /api/mcp[/{gameId}]` opens an event stream whose first event, `endpoint`, names
//! `/api/mcp?session_id=…`; the client POSTs JSON-RPC there, gets `202`, and the answers
//! come on the stream as `message` events, with a `heartbeat` event every 30 s. The
//! session lives as long as its stream.

use super::jsonrpc::{self, Body, RpcError, OPERATION_FAILED};
use super::server;
use super::tools::Caller;
use super::{Mcp, Session, MAX_STREAMS, STREAM_QUEUE};
use crate::gamehub::body;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::{Duration, Interval};

const HEARTBEAT: Duration = Duration::from_secs(30);

/// One open stream.
pub(crate) struct Entry {
    session: Session,
    tx: mpsc::Sender<String>,
}

/// Takes the session off the map when its stream goes (the client left).
struct Forget {
    mcp: Arc<Mcp>,
    sid: String,
}

impl Drop for Forget {
    fn drop(&mut self) {
        self.mcp.streams().remove(&self.sid);
    }
}

fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    query
        .map(body::form)
        .and_then(|m| m.get(key).and_then(Value::as_str).map(str::to_owned))
}

pub(crate) async fn open(State(mcp): State<Arc<Mcp>>, RawQuery(q): RawQuery) -> Response {
    start(mcp, None, q.as_deref())
}

pub(crate) async fn open_game(
    State(mcp): State<Arc<Mcp>>,
    Path(game): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    start(mcp, Some(game), q.as_deref())
}

fn start(mcp: Arc<Mcp>, game: Option<String>, query: Option<&str>) -> Response {
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let (tx, rx) = mpsc::channel(STREAM_QUEUE);
    {
        let mut streams = mcp.streams();
        if streams.len() >= MAX_STREAMS {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "too many MCP streams are open; close one first",
            )
                .into_response();
        }
        let session = Session {
            fixed: game.is_some(),
            game,
            version: None,
        };
        streams.insert(sid.clone(), Entry { session, tx });
    }
    // A client that reached us with `?token=` (it cannot set headers) needs it on its
    // POSTs too.
    let mut endpoint = format!("/api/mcp?session_id={sid}");
    if let Some(t) = query_value(query, "token") {
        endpoint.push_str("&token=");
        endpoint.push_str(&urlencode(&t));
    }
    let forget = Forget { mcp, sid };
    let beat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    struct State {
        first: Option<String>,
        rx: mpsc::Receiver<String>,
        beat: Interval,
        _forget: Forget,
    }
    let state = State {
        first: Some(endpoint),
        rx,
        beat,
        _forget: forget,
    };
    let events = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(e) = s.first.take() {
            return Some((
                Ok::<_, Infallible>(Event::default().event("endpoint").data(e)),
                s,
            ));
        }
        let ev = tokio::select! {
            m = s.rx.recv() => Event::default().event("message").data(m?),
            _ = s.beat.tick() => Event::default().event("heartbeat").data(now_ms().to_string()),
        };
        Some((Ok(ev), s))
    });
    Sse::new(events).into_response()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        jsonrpc::error(&Value::Null, &RpcError::new(OPERATION_FAILED, why)).to_string(),
    )
        .into_response()
}

pub(crate) async fn post(
    State(mcp): State<Arc<Mcp>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> Response {
    let Some(sid) = query_value(q.as_deref(), "session_id") else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "session_id is required: open the stream with GET /api/mcp first",
        );
    };
    let Some((mut session, tx)) = mcp
        .streams()
        .get(&sid)
        .map(|e| (e.session.clone(), e.tx.clone()))
    else {
        return refuse(StatusCode::NOT_FOUND, "session not found");
    };
    let messages = match jsonrpc::parse(&bytes) {
        Ok(Body::One(m)) => vec![m],
        Ok(Body::Batch(list)) => list,
        Err(answer) => {
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                answer.to_string(),
            )
                .into_response()
        }
    };
    // Room for every answer first, so a full queue refuses the request before it acts.
    if tx.capacity() < messages.len() {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many answers are waiting on this session's stream",
        );
    }
    let mut answers = vec![];
    {
        let mut caller = Caller {
            api: &mcp.api,
            peer,
            session: &mut session,
        };
        for m in messages {
            answers.extend(server::handle(&mut caller, m));
        }
    }
    if let Some(e) = mcp.streams().get_mut(&sid) {
        e.session = session;
    }
    for a in answers {
        // Only this request's answers can have filled the room checked above, or a
        // concurrent POST's: then the answer is dropped and the client times out,
        // rather than the server holding unbounded answers.
        if tx.try_send(a.to_string()).is_err() {
            log::warn!("MCP stream {sid}: an answer was dropped (stream full or gone)");
        }
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}
