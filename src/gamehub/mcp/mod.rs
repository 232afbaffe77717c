//! The Model Context Protocol on the game API's server, for AI agents (Claude Desktop,
//! Cline, Cherry Studio…): the same games, the same gate and the same door as the HTTP API.
//!
//! - `jsonrpc.rs`: messages in, answers out, the error codes.
//! - `server.rs`: the methods (`initialize`, `ping`, `tools/*`, `resources/*`).
//! - `tools.rs`: the tools, ours and Game-Hub's legacy names, every write through the
//!   engine, the stop check and an event.
//! - `streamable.rs`: the streamable HTTP transport at `/mcp` (2025-03-26 and later).
//! - `legacy_sse.rs`: Game-Hub's HTTP+SSE transport at `/api/mcp[/{gameId}]`.
//!
//! The door (`access.rs`) runs first, as for every route: Host and Origin checks, the
//! token from other machines. Sessions and queues are bounded so a client that opens
//! many and never closes them costs a fixed amount of memory.

mod jsonrpc;
mod legacy_sse;
mod server;
mod streamable;
mod tools;

use super::http::Api;
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The paths MCP is served on (not in the OpenAPI document: MCP describes itself).
pub const MCP_PATHS: &[&str] = &["/mcp", "/api/mcp", "/api/mcp/{gameId}"];

/// Most streamable sessions kept; the least recently used goes first (its client gets 404
/// and, as the spec says, starts a new one).
const MAX_SESSIONS: usize = 64;
/// Most legacy SSE streams open at once; more are refused with 503.
const MAX_STREAMS: usize = 16;
/// Answers waiting on one legacy stream; a POST beyond is refused with 503.
const STREAM_QUEUE: usize = 32;

/// What a session remembers between calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct Session {
    /// The game its calls address when they name none (`connect_game`, or the legacy
    /// URL's `{gameId}`); `None`: every paired game of ours.
    pub(crate) game: Option<String>,
    /// Set by the URL: `disconnect_game` may not change it.
    pub(crate) fixed: bool,
    /// What `initialize` agreed on.
    pub(crate) version: Option<String>,
}

/// MCP's state beside the HTTP API's.
pub(crate) struct Mcp {
    api: Api,
    sessions: Mutex<HashMap<String, streamable::Entry>>,
    streams: Mutex<HashMap<String, legacy_sse::Entry>>,
}

impl Mcp {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, streamable::Entry>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn streams(&self) -> MutexGuard<'_, HashMap<String, legacy_sse::Entry>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The MCP routes, to merge into the API's router (before its body limit).
pub(crate) fn router<S>(api: Api) -> Router<S> {
    let mcp = Arc::new(Mcp {
        api,
        sessions: Mutex::new(HashMap::new()),
        streams: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route(
            "/mcp",
            get(streamable::get)
                .post(streamable::post)
                .delete(streamable::delete),
        )
        .route("/api/mcp", get(legacy_sse::open).post(legacy_sse::post))
        .route("/api/mcp/{game}", get(legacy_sse::open_game))
        .with_state(mcp)
}
