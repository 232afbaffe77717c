//! The "Games" panel (issue 15 point 5): the Game-Hub-compatible API on this machine
//! (on 127.0.0.1:8920 by default, LAN exposure opt-in behind a token), its connect code,
//! the web remote and overlay links, the recent API calls and the game mode's state.
//! The core's [`GameHub`] does the work; this file starts and restarts its server from the
//! settings and forwards its events. Nothing here knows the API's protocol.

use crate::error::{CommandError, CommandResult};
use crate::notice::Kind;
use crate::settings::GamesSettings;
use crate::state::AppState;
use dglab_core::gamehub::{self, GameHub, GameHubEvent, GameStatus, HttpConfig, HttpServer};
use serde::Serialize;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

/// Payload: [`GamesView`], on every API call, refusal or output change.
pub const EVENT_GAMES: &str = "games:update";

/// API calls the panel lists, newest last.
const RECENT: usize = 50;

/// Why the API is not listening, for the panel to word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GamesProblem {
    /// `busy` (another program, likely Game-Hub itself, holds the port), `permission`
    /// (a reserved port) or `other`.
    pub reason: &'static str,
    /// The port asked for.
    pub port: u16,
    /// The system's words, for the log and a tooltip.
    pub detail: String,
}

/// One API call or output change, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GameCall {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The core's event (`kind`: `api_write`, `api_refused`, `output`).
    #[serde(flatten)]
    pub event: GameHubEvent,
}

/// Everything the panel shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GamesView {
    /// The settings: on/off, port, LAN exposure.
    pub enabled: bool,
    /// The port asked for.
    pub port: u16,
    /// Listening on every interface (with the token) rather than 127.0.0.1.
    pub lan: bool,
    /// The token other machines send (`Authorization: Bearer`); shown so it can be copied.
    pub token: String,
    /// Where the API listens now (`None`: off or failed).
    pub listening: Option<String>,
    /// Why it does not listen although switched on.
    pub problem: Option<GamesProblem>,
    /// `<clientId>@http://127.0.0.1:<port>` for mods to paste.
    pub connect_code: Option<String>,
    /// The phone remote (with the token in the fragment when on the LAN).
    pub remote_url: Option<String>,
    /// The OBS overlay.
    pub overlay_url: Option<String>,
    /// Game output switched on (the game mode runs while an App is paired).
    pub output: bool,
    /// Our terminal as a game: base/random strength, fire, pulses.
    pub games: Vec<GameStatus>,
    /// The latest API calls, oldest first.
    pub recent: Vec<GameCall>,
}

/// The API's server and what the panel lists; managed by [`start`].
pub struct GamesSlot {
    hub: GameHub,
    inner: Mutex<Inner>,
    /// One restart at a time (the server's shutdown is awaited).
    restarting: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Inner {
    server: Option<HttpServer>,
    problem: Option<GamesProblem>,
    recent: VecDeque<GameCall>,
}

impl GamesSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A fresh token: 32 hex digits from a v4 UUID (122 random bits).
pub fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Where the API should listen for these settings.
fn listen_addr(s: &GamesSettings) -> SocketAddr {
    let ip = if s.lan {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    SocketAddr::new(ip, s.port)
}

/// The address a phone on the LAN types: the best LAN address, else loopback.
fn lan_host() -> String {
    dglab_core::pairing::lan::lan_candidates()
        .ok()
        .and_then(|c| c.first().map(|c| c.addr.to_string()))
        .unwrap_or_else(|| "127.0.0.1".into())
}

fn view(slot: &GamesSlot, s: &GamesSettings) -> GamesView {
    let inner = slot.lock();
    let games = slot.hub.status();
    let id = games.first().map(|g| g.id);
    let addr = inner.server.as_ref().map(HttpServer::local_addr);
    let (remote_url, overlay_url) = match (addr, id) {
        (Some(a), Some(id)) => {
            let host = if s.lan {
                lan_host()
            } else {
                "127.0.0.1".into()
            };
            let base = format!("http://{host}:{}", a.port());
            let fragment = if s.lan {
                format!("#token={}", s.token)
            } else {
                String::new()
            };
            (
                Some(format!("{base}/remote?clientId={id}{fragment}")),
                Some(format!(
                    "http://127.0.0.1:{}/overlay?clientId={id}",
                    a.port()
                )),
            )
        }
        _ => (None, None),
    };
    GamesView {
        enabled: s.enabled,
        port: s.port,
        lan: s.lan,
        token: s.token.clone(),
        listening: addr.map(|a| a.to_string()),
        problem: inner.problem.clone(),
        connect_code: inner
            .server
            .as_ref()
            .zip(id)
            .map(|(srv, id)| srv.connect_code(id)),
        remote_url,
        overlay_url,
        output: slot.hub.output_on(),
        games,
        recent: inner.recent.iter().cloned().collect(),
    }
}

fn slot<R: Runtime>(app: &AppHandle<R>) -> CommandResult<tauri::State<'_, GamesSlot>> {
    app.try_state::<GamesSlot>()
        .ok_or_else(|| CommandError::new(Kind::Io).with("what", "games"))
}

fn settings_of(state: &AppState) -> GamesSettings {
    state.settings().games.clone()
}

/// Makes our terminal a game, starts the API as the settings say and forwards its events.
/// Called once after the services started; a port that is taken is a problem the panel
/// words, never a failed start.
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    start_on(app, None);
}

/// [`start`], with `port` (tests: 0 for any free port) instead of the settings' for this
/// first start; nothing is saved.
pub fn start_on<R: Runtime>(app: &AppHandle<R>, port: Option<u16>) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let hub = GameHub::new(state.safety.clone(), Some(state.presets.clone()));
    {
        // The game's output loop is a task on Tauri's runtime, like the relay's.
        let rt = tauri::async_runtime::handle();
        let _inside = rt.inner().enter();
        hub.add_terminal(state.guarded.clone());
    }
    let mut events = hub.subscribe();
    app.manage(GamesSlot {
        hub,
        inner: Mutex::default(),
        restarting: tokio::sync::Mutex::new(()),
    });
    let mut settings = settings_of(&state);
    if settings.token.is_empty() {
        // The first start: a token of its own, kept, so it is the same at every start.
        match state.update_settings(|s| {
            s.games.token = new_token();
            Ok(())
        }) {
            Ok((_, saved)) => settings = saved.games,
            Err(e) => log::warn!("cannot save the game API's token: {e:?}"),
        }
    }
    if let Some(p) = port {
        settings.port = p;
    }
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Ok(slot) = slot(&handle) {
            restart(&slot, &settings).await;
        }
        loop {
            match events.recv().await {
                Ok(ev) => {
                    let (level, line) = ev.log_line();
                    log::log!(level, "{line}");
                    let Ok(slot) = slot(&handle) else { return };
                    {
                        let mut inner = slot.lock();
                        if inner.recent.len() == RECENT {
                            inner.recent.pop_front();
                        }
                        inner.recent.push_back(GameCall {
                            at_ms: now_ms(),
                            event: ev,
                        });
                    }
                    emit(&handle);
                }
                Err(RecvError::Lagged(n)) => log::debug!("game API events lagged by {n}"),
                Err(RecvError::Closed) => return,
            }
        }
    });
}

fn emit<R: Runtime>(app: &AppHandle<R>) {
    let (Ok(slot), Some(state)) = (slot(app), app.try_state::<AppState>()) else {
        return;
    };
    let v = view(&slot, &settings_of(&state));
    if let Err(e) = app.emit(EVENT_GAMES, v) {
        log::debug!("games event: {e}");
    }
}

/// Stops the server, then starts it again as `s` says (or not at all).
async fn restart(slot: &GamesSlot, s: &GamesSettings) {
    let _one = slot.restarting.lock().await;
    let old = {
        let mut inner = slot.lock();
        inner.problem = None;
        inner.server.take()
    };
    if let Some(server) = old {
        server.shutdown().await;
    }
    if !s.enabled {
        return;
    }
    let addr = listen_addr(s);
    let problem = |reason, detail: String| GamesProblem {
        reason,
        port: s.port,
        detail,
    };
    let result = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            let config = HttpConfig {
                token: s.lan.then(|| s.token.clone()),
                ..HttpConfig::default()
            };
            gamehub::serve_http(listener, slot.hub.clone(), config)
                .map_err(|e| problem("other", e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(problem(
            "busy",
            format!("port {} is already in use (Game-Hub itself?)", s.port),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(problem("permission", e.to_string()))
        }
        Err(e) => Err(problem("other", e.to_string())),
    };
    let mut inner = slot.lock();
    match result {
        Ok(server) => {
            log::info!("game API on http://{}", server.local_addr());
            inner.server = Some(server);
        }
        Err(p) => {
            log::warn!("game API not started: {}", p.detail);
            inner.problem = Some(p);
        }
    }
}

/// What the panel shows.
///
/// # Errors
/// `io` before the services started.
#[tauri::command]
pub fn games_state<R: Runtime>(app: AppHandle<R>) -> CommandResult<GamesView> {
    let state = app
        .try_state::<AppState>()
        .ok_or_else(|| CommandError::new(Kind::Io).with("what", "games"))?;
    Ok(view(&*slot(&app)?, &settings_of(&state)))
}

/// Switches the API on or off, moves it to `port`, exposes it to the LAN (with the token)
/// or not; saved in the settings and applied at once.
///
/// # Errors
/// `invalid_setting` for port 0; `io` when the settings cannot be saved.
#[tauri::command]
pub async fn set_games_api<R: Runtime>(
    app: AppHandle<R>,
    enabled: bool,
    port: u16,
    lan: bool,
) -> CommandResult<GamesView> {
    let (_, saved) = super::off_main(app.clone(), "settings", move |state| {
        state.update_settings(|s| {
            s.games.enabled = enabled;
            s.games.port = port;
            s.games.lan = lan;
            Ok(())
        })
    })
    .await?;
    let slot = slot(&app)?;
    restart(&slot, &saved.games).await;
    emit(&app);
    Ok(view(&slot, &saved.games))
}

/// A new token: the old one stops working at once.
///
/// # Errors
/// `io` when the settings cannot be saved.
#[tauri::command]
pub async fn new_games_token<R: Runtime>(app: AppHandle<R>) -> CommandResult<GamesView> {
    let token = new_token();
    let t = token.clone();
    let (_, saved) = super::off_main(app.clone(), "settings", move |state| {
        state.update_settings(|s| {
            s.games.token = t;
            Ok(())
        })
    })
    .await?;
    let slot = slot(&app)?;
    let replaced = {
        let inner = slot.lock();
        inner
            .server
            .as_ref()
            .map(|srv| srv.set_token(saved.games.lan.then(|| token.clone())))
    };
    if let Some(Err(e)) = replaced {
        log::warn!("game API token: {e}");
    }
    log::info!("game API: a new token was made; the old one no longer works");
    emit(&app);
    Ok(view(&slot, &saved.games))
}

/// Switches game output (the game mode) on or off.
///
/// # Errors
/// `stopped` / `watchdog` when switching on while the stop is latched or the lease lapsed.
#[tauri::command]
pub fn set_game_output<R: Runtime>(app: AppHandle<R>, on: bool) -> CommandResult<GamesView> {
    let slot = slot(&app)?;
    slot.hub.set_output(on)?;
    let state = app
        .try_state::<AppState>()
        .ok_or_else(|| CommandError::new(Kind::Io).with("what", "games"))?;
    Ok(view(&slot, &settings_of(&state)))
}
