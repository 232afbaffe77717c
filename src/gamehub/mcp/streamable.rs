//! Streamable HTTP (MCP 2025-03-26, 2025-06-18) at `/mcp`.
//!
//! `POST` one message or a batch: requests are answered in the response, as one JSON
//! body, or as a short `text/event-stream` (one `message` event per answer) when the
//! client accepts that; notifications alone get `202`. `initialize` opens a session whose
//! id comes back in `Mcp-Session-Id`; every later message must carry it (400 without,
//! 404 for one we do not know). `DELETE` ends a session. `GET` answers 405: we never
//! send a message the client did not ask for, so there is no stream to open.

use super::jsonrpc::{self, Body, Incoming, RpcError, INVALID_REQUEST, OPERATION_FAILED};
use super::server::{self, VERSIONS};
use super::tools::Caller;
use super::{Mcp, Session, MAX_SESSIONS};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::Instant;

const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");
const VERSION_HEADER: &str = "mcp-protocol-version";

/// One streamable session.
pub(crate) struct Entry {
    session: Session,
    used: Instant,
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn refuse(status: StatusCode, code: i64, why: &str) -> Response {
    json_response(
        status,
        &jsonrpc::error(&Value::Null, &RpcError::new(code, why)),
    )
}

/// Whether the client takes an event stream (then it gets one).
fn wants_sse(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

pub(crate) async fn post(
    State(mcp): State<Arc<Mcp>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    if let Some(v) = headers.get(VERSION_HEADER) {
        if !v.to_str().is_ok_and(|v| VERSIONS.contains(&v)) {
            return refuse(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                &format!("unsupported MCP-Protocol-Version; this server speaks {VERSIONS:?}"),
            );
        }
    }
    let body = match jsonrpc::parse(&bytes) {
        Ok(b) => b,
        Err(answer) => return json_response(StatusCode::BAD_REQUEST, &answer),
    };
    let is_init =
        |m: &Incoming| matches!(m, Incoming::Request { method, .. } if method == "initialize");
    let (messages, batch) = match body {
        Body::One(m) => (vec![m], false),
        Body::Batch(list) => {
            if list.iter().any(is_init) {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    INVALID_REQUEST,
                    "initialize must be sent alone, not in a batch",
                );
            }
            (list, true)
        }
    };
    let sid = headers
        .get(&SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (sid, mut session, new) = if is_init(&messages[0]) {
        (
            uuid::Uuid::new_v4().simple().to_string(),
            Session::default(),
            true,
        )
    } else {
        let Some(sid) = sid else {
            return refuse(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "Mcp-Session-Id header is required (send initialize first)",
            );
        };
        let Some(s) = mcp.sessions().get(&sid).map(|e| e.session.clone()) else {
            return refuse(
                StatusCode::NOT_FOUND,
                OPERATION_FAILED,
                "session not found: initialize again",
            );
        };
        (sid, s, false)
    };
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
    store(&mcp, &sid, session, new);
    let mut response = if answers.is_empty() {
        StatusCode::ACCEPTED.into_response()
    } else if wants_sse(&headers) {
        let mut text = String::new();
        for a in &answers {
            text.push_str(&format!("event: message\ndata: {a}\n\n"));
        }
        (
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            text,
        )
            .into_response()
    } else if batch {
        json_response(StatusCode::OK, &Value::Array(answers))
    } else {
        json_response(StatusCode::OK, &answers[0])
    };
    if let Ok(v) = HeaderValue::from_str(&sid) {
        response.headers_mut().insert(SESSION_HEADER, v);
    }
    response
}

/// Writes the session back (a new one evicts the least recently used when full). A
/// session deleted meanwhile stays deleted.
fn store(mcp: &Mcp, sid: &str, session: Session, new: bool) {
    let mut all = mcp.sessions();
    let used = Instant::now();
    if new {
        if all.len() >= MAX_SESSIONS {
            if let Some(oldest) = all
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                all.remove(&oldest);
            }
        }
        all.insert(sid.to_owned(), Entry { session, used });
    } else if let Some(e) = all.get_mut(sid) {
        *e = Entry { session, used };
    }
}

pub(crate) async fn get() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST, DELETE")],
        "this server sends nothing unasked: POST your requests",
    )
        .into_response()
}

pub(crate) async fn delete(State(mcp): State<Arc<Mcp>>, headers: HeaderMap) -> Response {
    let sid = headers.get(&SESSION_HEADER).and_then(|v| v.to_str().ok());
    match sid {
        None => refuse(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Mcp-Session-Id header is required",
        ),
        Some(sid) => match mcp.sessions().remove(sid) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => refuse(StatusCode::NOT_FOUND, OPERATION_FAILED, "session not found"),
        },
    }
}
