//! The game API: a Coyote-Game-Hub-compatible local HTTP API and the game output loop it
//! drives, so the game mods, scripts and bots written for Game-Hub work with DG-LAB Hub
//! unchanged — and nothing they send passes the user's caps or the emergency stop.
//!
//! docs/gamehub-api.md is the compatibility spec (endpoints, envelopes, quirks). Here:
//! - [`GameHub`] (`engine.rs`): our terminals as games, one output loop each; every
//!   strength and pulse goes through the terminal's safety gate.
//! - `game.rs`: one game's settings and the loop's arithmetic (base + random, fire,
//!   playlist), pure and unit-tested.
//! - `pulses.rs`: the pulse catalogue (built-ins under Game-Hub's stock ids, user presets).
//! - [`serve_http`] (`http.rs` routes and handlers, `body.rs` JSON/form bodies,
//!   `envelope.rs` the `{status, code, message}` answers, `access.rs` the door: Host,
//!   Origin, token, path normalisation).
//! - [`GameHubEvent`] (`event.rs`): every API write, refusal and output change, for the
//!   window and the log.
//!
//! Floor 5: above the player, which it uses to stream pulses.

mod access;
mod body;
mod engine;
mod envelope;
pub mod event;
pub mod game;
mod http;
mod mcp;
mod pulses;
mod web;
mod ws;

pub use engine::{GameHub, GameStatus};
pub use event::{GameHubEvent, OutputChange};
pub use game::{GameConfig, PulseMode, StrengthConfig};
pub use http::{OPENAPI, PATHS};
pub use mcp::MCP_PATHS;
pub use pulses::Pulse;

use access::Door;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The port Game-Hub and its clients use.
pub const DEFAULT_PORT: u16 = 8920;

/// Largest request body accepted (Game-Hub's bodies are a few dozen bytes).
pub const BODY_LIMIT: usize = 64 * 1024;

/// How the HTTP side is set up.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Required (as `Authorization: Bearer <token>` or `?token=`) from every caller that
    /// is not on this machine. Listening beyond loopback without one is refused.
    pub token: Option<String>,
    /// Whether `all` may address every game (Game-Hub's `allowBroadcastToClients`).
    pub allow_broadcast: bool,
    /// Host names accepted besides loopback and the listening address (e.g. the
    /// machine's LAN name), lowercase.
    pub extra_hosts: Vec<String>,
    /// The App's pairing URLs, for `GET /api/server_info`.
    pub app_urls: Vec<String>,
    /// Switch game output on at the first accepted write (strength, pulse, fire), as
    /// long as no emergency stop has happened: for a program without a "start" button
    /// (the headless relay), so pairing the App alone never makes it do anything.
    pub start_output_on_request: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            token: None,
            allow_broadcast: true,
            extra_hosts: vec![],
            app_urls: vec![],
            start_output_on_request: false,
        }
    }
}

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Listening beyond loopback needs a token.
    #[error("the game API on {0} would be reachable from other machines; give it a token (--api-token) or listen on 127.0.0.1")]
    LanWithoutToken(SocketAddr),
    /// An empty token would match an empty header.
    #[error("the API token must not be empty")]
    EmptyToken,
    /// The listener's address could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The running HTTP server. Dropping it leaves the server running; call
/// [`HttpServer::shutdown`] to stop it.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    door: Arc<Door>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The connect code for `game` as Game-Hub's UI shows it: `<id>@http://127.0.0.1:<port>`.
    pub fn connect_code(&self, game: uuid::Uuid) -> String {
        format!("{game}@http://127.0.0.1:{}", self.addr.port())
    }

    /// Replaces the API token from the next request on (the window's "new token"; the
    /// old one stops working at once).
    ///
    /// # Errors
    /// [`HttpError::LanWithoutToken`] for `None` while listening beyond loopback,
    /// [`HttpError::EmptyToken`] for `Some("")`; the token in force stays.
    pub fn set_token(&self, token: Option<String>) -> Result<(), HttpError> {
        check_exposure(self.addr, token.as_deref())?;
        *self.door.token.write().unwrap_or_else(|e| e.into_inner()) = token;
        Ok(())
    }

    /// Stops accepting, lets requests in progress finish, and returns when it has.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// No empty token, and none at all only on loopback.
fn check_exposure(addr: SocketAddr, token: Option<&str>) -> Result<(), HttpError> {
    match token {
        Some("") => Err(HttpError::EmptyToken),
        None if !addr.ip().is_loopback() => Err(HttpError::LanWithoutToken(addr)),
        _ => Ok(()),
    }
}

/// Serves the game API for `games` on `listener`.
///
/// # Errors
/// [`HttpError::LanWithoutToken`] when `listener` is not on a loopback address and no
/// token is set; [`HttpError::EmptyToken`] for `Some("")`.
///
/// # Panics
/// Outside a Tokio runtime.
pub fn serve_http(
    listener: TcpListener,
    games: GameHub,
    config: HttpConfig,
) -> Result<HttpServer, HttpError> {
    let addr = listener.local_addr()?;
    check_exposure(addr, config.token.as_deref())?;
    let door = Arc::new(Door {
        local: addr,
        token: config.token.clone().into(),
        extra_hosts: config.extra_hosts.clone(),
    });
    let stop = CancellationToken::new();
    let api = http::Api {
        games,
        door: door.clone(),
        config: Arc::new(config),
        stop: stop.clone(),
    };
    let inner = http::router(api.clone(), BODY_LIMIT);
    // The door runs before routing (it rewrites the path), so it wraps a router whose
    // only route is the real one.
    let app = axum::Router::new()
        .fallback_service(inner)
        .layer(axum::middleware::from_fn_with_state(api, access::check));
    let signal = stop.clone();
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service)
            .with_graceful_shutdown(async move { signal.cancelled().await })
            .await
        {
            log::warn!("game API stopped: {e}");
        }
    });
    Ok(HttpServer {
        addr,
        door,
        stop,
        task,
    })
}
