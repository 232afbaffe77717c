//! The routes and handlers: spec §2's endpoint table, v1 and v2 paths on the same handler.
//!
//! `{id}` is one of our terminals' ids (the UUID in its QR code) or `all`, which means
//! every game whose App is paired now — only ours: an App paired with another terminal on
//! the relay is never a game here. Validation failures answer `ERR::INVALID_REQUEST` with
//! HTTP 200 (upstream's intent; its 500s are a bug no client can rely on), and `all` with
//! no game answers `ERR::GAME_NOT_FOUND` instead of upstream's 500.

use super::access::Door;
use super::body::{self, BadBody};
use super::engine::{Game, GameHub, DEFAULT_SOFT_LIMIT};
use super::envelope::{self, err, ok};
use super::event::GameHubEvent;
use super::game::{Change, StrengthConfig, MAX_FIRE_TIME};
use super::HttpConfig;
use crate::safety::SafetyError;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter, MethodRouter};
use axum::Router;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::{Duration, Instant};

/// The OpenAPI document of this API, checked by tests/gamehub_api.rs against the routes.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Longest pulse id accepted, and most ids in one selection.
const MAX_PULSE_ID: usize = 64;
const MAX_PULSES: usize = 64;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) games: GameHub,
    pub(crate) door: Arc<Door>,
    pub(crate) config: Arc<HttpConfig>,
    /// Cancelled at shutdown: ends the `/ws` sessions, which outlive their request.
    pub(crate) stop: tokio_util::sync::CancellationToken,
}

/// Every routed path (tests compare it with the OpenAPI document).
pub const PATHS: &[&str] = &[
    "/api/game",
    "/api/v2/game",
    "/api/game/{id}",
    "/api/v2/game/{id}",
    "/api/game/{id}/strength_config",
    "/api/v2/game/{id}/strength",
    "/api/game/{id}/pulse_id",
    "/api/v2/game/{id}/pulse",
    "/api/game/{id}/pulse_list",
    "/api/v2/game/{id}/pulse_list",
    "/api/v2/pulse_list",
    "/api/game/{id}/fire",
    "/api/v2/game/{id}/action/fire",
    "/api/server_info",
    "/api/client/connect",
    "/api/openapi.json",
    // Our own extensions, for the remote and overlay pages (src/gamehub/web.rs).
    "/api/x/game/{id}/status",
    "/api/x/game/{id}/channel",
    "/api/x/stop",
];

/// `OPTIONS` answers 200 with `Allow`, as upstream's router does.
fn with_options(m: MethodRouter<Api>, allow: &'static str) -> MethodRouter<Api> {
    m.on(MethodFilter::OPTIONS, move || async move {
        (StatusCode::OK, [(header::ALLOW, allow)])
    })
}

pub(crate) fn router(api: Api, body_limit: usize) -> Router {
    let g = |h| with_options(h, "GET, HEAD, OPTIONS");
    let gp = |h| with_options(h, "GET, HEAD, POST, OPTIONS");
    let p = |h| with_options(h, "POST, OPTIONS");
    let strength = get(get_strength).post(post_strength);
    let pulse = get(get_pulse).post(post_pulse);
    let fire = on(MethodFilter::POST, post_fire);
    Router::new()
        .route("/api/game", g(get(version)))
        .route("/api/v2/game", g(get(version)))
        .route("/api/game/{id}", g(get(game_info)))
        .route("/api/v2/game/{id}", g(get(game_info)))
        .route("/api/game/{id}/strength_config", gp(strength.clone()))
        .route("/api/v2/game/{id}/strength", gp(strength))
        .route("/api/game/{id}/pulse_id", gp(pulse.clone()))
        .route("/api/v2/game/{id}/pulse", gp(pulse))
        .route("/api/game/{id}/pulse_list", g(get(pulse_list)))
        .route("/api/v2/game/{id}/pulse_list", g(get(pulse_list)))
        .route("/api/v2/pulse_list", g(get(server_pulse_list)))
        .route("/api/game/{id}/fire", p(fire.clone()))
        .route("/api/v2/game/{id}/action/fire", p(fire))
        .route("/api/server_info", g(get(server_info)))
        .route("/api/client/connect", g(get(client_connect)))
        .route("/api/openapi.json", g(get(openapi)))
        // MCP for AI agents (src/gamehub/mcp/): /mcp and Game-Hub's /api/mcp.
        .merge(super::mcp::router(api.clone()))
        // gamehub-web: our own pages (remote, overlay) and their /api/x extensions.
        .merge(super::web::routes())
        .route("/ws", get(super::ws::upgrade))
        .fallback(envelope::not_found)
        .method_not_allowed_fallback(envelope::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(api)
}

/// A failure answered in the envelope (HTTP 200), or a body that is no JSON or form at
/// all (HTTP 400, as upstream).
pub(crate) enum Refusal {
    Envelope { code: &'static str, message: String },
    BadBody,
}

impl Refusal {
    fn new(code: &'static str, message: &str) -> Self {
        Refusal::Envelope {
            code,
            message: message.to_owned(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Envelope { code, message } => err(code, &message),
            Refusal::BadBody => envelope::bad_request(),
        }
    }
}

/// Which games a request addresses.
enum Target {
    /// One of our terminals (its App may or may not be paired).
    Ours(Arc<Game>),
    /// `all`: our games whose App is paired now, in the order they were added.
    All(Vec<Arc<Game>>),
    /// An id that is none of ours.
    Unknown,
    /// `all` while the settings forbid it.
    NoBroadcast,
}

impl Api {
    fn target(&self, id: &str) -> Target {
        let games = self.games.shared.games();
        if id == "all" {
            if !self.config.allow_broadcast {
                return Target::NoBroadcast;
            }
            return Target::All(games.into_iter().filter(|g| g.current()).collect());
        }
        match games.into_iter().find(|g| g.id().to_string() == id) {
            Some(g) => Target::Ours(g),
            None => Target::Unknown,
        }
    }

    /// The one game a read addresses: ours and paired, or the first paired for `all`.
    pub(crate) fn read_target(&self, id: &str) -> Result<Arc<Game>, Refusal> {
        match self.target(id) {
            Target::Ours(g) if g.current() => Ok(g),
            Target::All(list) => list.into_iter().next().ok_or_else(game_not_found),
            Target::NoBroadcast => Err(no_broadcast()),
            _ => Err(game_not_found()),
        }
    }

    /// The games a strength or fire write addresses (only paired ones).
    pub(crate) fn write_targets(&self, id: &str) -> Result<Vec<Arc<Game>>, Refusal> {
        match self.target(id) {
            Target::Ours(g) if g.current() => Ok(vec![g]),
            Target::All(list) => Ok(list),
            Target::NoBroadcast => Err(no_broadcast()),
            _ => Err(game_not_found()),
        }
    }

    /// Refuses a write while the stop is latched (or the lease lapsed), and says so.
    pub(crate) fn refuse_if_stopped(&self, peer: SocketAddr, request: &str) -> Result<(), Refusal> {
        match self.games.shared.blocked() {
            None => Ok(()),
            Some(e) => {
                let why = match e {
                    SafetyError::LeaseLapsed => "the controller's lease lapsed",
                    _ => "the emergency stop is latched",
                };
                self.games.shared.emit(GameHubEvent::ApiRefused {
                    peer,
                    request: request.to_owned(),
                    why: why.to_owned(),
                });
                Err(Refusal::new(
                    envelope::EMERGENCY_STOP,
                    &format!("{why}: nothing was changed; re-arm in DG-LAB Hub first"),
                ))
            }
        }
    }

    pub(crate) fn wrote(
        &self,
        peer: SocketAddr,
        request: String,
        games: &[Arc<Game>],
        detail: String,
    ) {
        if self.config.start_output_on_request {
            self.games.shared.start_on_request();
        }
        self.games.shared.emit(GameHubEvent::ApiWrite {
            peer,
            request,
            games: games.iter().map(|g| g.id()).collect(),
            detail,
        });
    }
}

fn game_not_found() -> Refusal {
    Refusal::new(
        envelope::GAME_NOT_FOUND,
        "no game with this id is connected",
    )
}

fn no_broadcast() -> Refusal {
    Refusal::new(
        envelope::BROADCAST_NOT_ALLOWED,
        "addressing every game (all) is switched off",
    )
}

pub(crate) fn invalid(what: &str) -> Refusal {
    Refusal::new(envelope::INVALID_REQUEST, what)
}

fn ids(games: &[Arc<Game>]) -> Value {
    json!(games.iter().map(|g| g.id().to_string()).collect::<Vec<_>>())
}

pub(crate) fn read_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Map<String, Value>, Refusal> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    body::parse(ct, bytes).map_err(|BadBody| Refusal::BadBody)
}

async fn version() -> Response {
    ok(
        json!({"message": "DG-LAB Hub game API (Coyote-Game-Hub compatible)", "minApiVersion": 1, "maxApiVersion": 2}),
    )
}

fn client_strength(g: &Game) -> Value {
    match g.terminal.last_report() {
        Some(r) => json!({"strength": r.a, "limit": r.limit_a}),
        None => json!({"strength": 0, "limit": DEFAULT_SOFT_LIMIT}),
    }
}

async fn game_info(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, Refusal> {
    let now = Instant::now();
    let game = match api.target(&id) {
        Target::Ours(g) if !g.current() => {
            // Known but offline: AstrBot tells "offline" by `clientStrength == null`.
            let config = g.lock().config.to_json();
            return Ok(ok(
                json!({"strengthConfig": null, "gameConfig": config, "clientStrength": null, "currentPulseId": ""}),
            ));
        }
        Target::Unknown => {
            return Ok(ok(
                json!({"strengthConfig": null, "clientStrength": null, "currentPulseId": ""}),
            ))
        }
        _ => api.read_target(&id)?,
    };
    let strength = effective(&api, &game);
    let mut st = game.lock();
    let current = st.current_pulse(now);
    Ok(ok(json!({
        "strengthConfig": strength,
        "gameConfig": st.config.to_json(),
        "clientStrength": client_strength(&game),
        "currentPulseId": current,
    })))
}

async fn get_strength(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, Refusal> {
    let g = api.read_target(&id)?;
    Ok(ok(json!({"strengthConfig": effective(&api, &g)})))
}

/// The strength config in force: a base set before the cap or soft limit came down is
/// reported at the ceiling the gate holds it to.
fn effective(api: &Api, g: &Game) -> StrengthConfig {
    let ceiling = g.ceiling(&api.games.shared.safety);
    let mut s = g.lock().strength;
    s.strength = s.strength.min(ceiling);
    s
}

/// `{add|sub|set}` of one field, upstream's precedence: add, then sub, then set.
fn change_of(v: Option<&Value>, field: &str) -> Result<Option<Change>, Refusal> {
    let Some(v) = v else { return Ok(None) };
    let Value::Object(m) = v else {
        return Err(invalid(&format!(
            "{field} must be an object of add, sub or set"
        )));
    };
    let num = |k: &str| -> Result<Option<i64>, Refusal> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => body::int(x)
                .map(Some)
                .ok_or_else(|| invalid(&format!("{field}.{k} must be an integer"))),
        }
    };
    let (add, sub, set) = (num("add")?, num("sub")?, num("set")?);
    Ok(add
        .map(Change::Add)
        .or(sub.map(Change::Sub))
        .or(set.map(Change::Set)))
}

async fn post_strength(
    State(api): State<Api>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Refusal> {
    let request = format!("POST {}", uri.path());
    let body = read_body(&headers, &bytes)?;
    let (s, r) = match (
        change_of(body.get("strength"), "strength"),
        change_of(body.get("randomStrength"), "randomStrength"),
    ) {
        (Ok(s), Ok(r)) => (s, r),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let games = api.write_targets(&id)?;
    api.refuse_if_stopped(peer, &request)?;
    let mut detail = vec![];
    for g in &games {
        let ceiling = g.ceiling(&api.games.shared.safety);
        let mut st = g.lock();
        let before = st.strength;
        if st.change_strength(s, r, ceiling) {
            detail.push(format!(
                "strength {}→{}, random {}→{}",
                before.strength,
                st.strength.strength,
                before.random_strength,
                st.strength.random_strength
            ));
        }
        drop(st);
        g.wake();
    }
    if s.is_some() || r.is_some() {
        let detail = if detail.is_empty() {
            "strength config unchanged".to_owned()
        } else {
            detail.join("; ")
        };
        api.wrote(peer, request, &games, detail);
    }
    Ok(ok(json!({
        "message": format!("strength config set for {} game(s)", games.len()),
        "successClientIds": ids(&games),
    })))
}

async fn get_pulse(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, Refusal> {
    let game = match api.target(&id) {
        // Stored settings answer for one of ours even while its App is away.
        Target::Ours(g) => g,
        _ => api.read_target(&id)?,
    };
    let mut st = game.lock();
    let current = st.current_pulse(Instant::now());
    Ok(ok(
        json!({"currentPulseId": current, "pulseId": st.config.pulse_id_json()}),
    ))
}

fn pulse_ids(v: Option<&Value>) -> Result<Vec<String>, Refusal> {
    let list: Vec<String> = match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("pulseId must be a string or a list of strings"))?,
        _ => return Err(invalid("pulseId is required")),
    };
    if list.is_empty() || list.iter().any(String::is_empty) {
        return Err(invalid("pulseId must not be empty"));
    }
    if list.len() > MAX_PULSES || list.iter().any(|s| s.chars().count() > MAX_PULSE_ID) {
        return Err(invalid("too many or too long pulse ids"));
    }
    Ok(list)
}

async fn post_pulse(
    State(api): State<Api>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Refusal> {
    let request = format!("POST {}", uri.path());
    let body = read_body(&headers, &bytes)?;
    let list = pulse_ids(body.get("pulseId"))?;
    let (games, reported) = match api.target(&id) {
        Target::Ours(g) => (vec![g], None),
        Target::All(list) => (list, None),
        Target::NoBroadcast => return Err(no_broadcast()),
        // Upstream answers success and stores nothing for an id it never saw.
        Target::Unknown => (vec![], Some(json!([id]))),
    };
    api.refuse_if_stopped(peer, &request)?;
    let now = Instant::now();
    for g in &games {
        g.lock().select_pulses(list.clone(), now);
        g.wake();
    }
    api.wrote(peer, request, &games, format!("pulse {}", list.join(", ")));
    Ok(ok(json!({
        "message": format!("pulse set for {} game(s)", games.len()),
        "successClientIds": reported.unwrap_or_else(|| ids(&games)),
    })))
}

fn pulse_list_json(api: &Api, query: Option<&str>) -> Response {
    let full =
        query.is_some_and(|q| body::form(q).get("type").and_then(Value::as_str) == Some("full"));
    let list: Vec<Value> = api
        .games
        .shared
        .catalogue()
        .into_iter()
        .map(|p| {
            if full {
                let data: Vec<String> = p.frames.iter().map(|f| f.to_hex()).collect();
                json!({"id": p.id, "name": p.name, "pulseData": data})
            } else {
                json!({"id": p.id, "name": p.name})
            }
        })
        .collect();
    ok(json!({"pulseList": list}))
}

async fn pulse_list(
    State(api): State<Api>,
    Path(_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    pulse_list_json(&api, q.as_deref())
}

async fn server_pulse_list(State(api): State<Api>, RawQuery(q): RawQuery) -> Response {
    pulse_list_json(&api, q.as_deref())
}

async fn post_fire(
    State(api): State<Api>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Refusal> {
    let request = format!("POST {}", uri.path());
    let body = read_body(&headers, &bytes)?;
    let strength = match body.get("strength").map(body::int) {
        Some(Some(s)) if (0..=200).contains(&s) => s as u8,
        _ => return Err(invalid("strength must be an integer from 0 to 200")),
    };
    let time = match body.get("time").filter(|v| !v.is_null()).map(body::int) {
        None => 5000,
        Some(Some(t)) if t >= 1 => t,
        _ => return Err(invalid("time must be a positive integer (milliseconds)")),
    };
    let replace = match body
        .get("override")
        .filter(|v| !v.is_null())
        .map(body::boolean)
    {
        None => false,
        Some(Some(b)) => b,
        Some(None) => return Err(invalid("override must be true or false")),
    };
    // `pulseId: ""` (DBD_QTE_go always sends it) means "no pulse of its own".
    let pulse = match body.get("pulseId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_PULSE_ID => Some(s.clone()),
        _ => return Err(invalid("pulseId must be a pulse id")),
    };
    let games = api.write_targets(&id)?;
    api.refuse_if_stopped(peer, &request)?;
    let mut warnings = vec![];
    let max = MAX_FIRE_TIME.as_millis() as i64;
    if time > max {
        warnings
            .push(json!({"code": "WARN::INVALID_TIME", "message": "time is capped at 300000 ms"}));
    }
    let dur = Duration::from_millis(time.min(max) as u64);
    let now = Instant::now();
    for g in &games {
        g.lock().fire(strength, dur, replace, pulse.clone(), now);
        g.wake();
    }
    api.wrote(
        peer,
        request,
        &games,
        format!(
            "fire +{strength} for {} ms{}",
            dur.as_millis(),
            if replace { " (override)" } else { "" }
        ),
    );
    Ok(ok(json!({
        "message": format!("fire sent to {} game(s)", games.len()),
        "successClientIds": ids(&games),
        "warnings": warnings,
    })))
}

async fn server_info(State(api): State<Api>) -> Response {
    let urls: Vec<Value> = api
        .config
        .app_urls
        .iter()
        .map(|u| {
            let domain = u
                .rsplit_once("ws://")
                .or_else(|| u.rsplit_once("wss://"))
                .map(|(_, rest)| rest.split([':', '/']).next().unwrap_or(""))
                .unwrap_or("");
            json!({"domain": domain, "connectUrl": u})
        })
        .collect();
    let base = format!("http://127.0.0.1:{}", api.door.local.port());
    ok(json!({"server": {"wsUrl": "/ws/", "clientWsUrls": urls, "apiBaseHttpUrl": base}}))
}

async fn client_connect() -> Response {
    ok(json!({"clientId": uuid::Uuid::new_v4().to_string()}))
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        OPENAPI,
    )
        .into_response()
}
