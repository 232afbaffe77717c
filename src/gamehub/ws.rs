//! `/ws`: Game-Hub's web-controller protocol (spec §5.1), for its OBS widget and the
//! AstrBot fork: JSON text frames, `{action, requestId, …}` in, `{event, requestId?, data?}`
//! out. The door checked Host, Origin and token before the upgrade, exactly as for HTTP.
//!
//! - `bindClient {clientId}` attaches the socket to one of our games and pushes its state
//!   (`gameConfigUpdated` ×2, `strengthChanged`, `strengthConfigUpdated`, `clientConnected`
//!   when an App is paired, `gameStarted`/`gameStopped`), then `response {status: 1}`;
//!   from then on every change is pushed (the state is compared every [`PUSH_EVERY`]).
//! - `updateStrengthConfig {config}` goes the API's way: clamped to the ceiling, refused
//!   while the stop is latched (then `response {status: 0}`; upstream sends nothing on
//!   success, nor do we). `updateConfig {type: "main-game"}` merges the known fields.
//! - `startGame` switches output on only where a first request may (the headless relay,
//!   never after a stop); in the desktop app that is the user's switch. `stopGame` always
//!   works. `kickClient` and `refreshConnectCode` are refused.
//! - `heartbeat`: we send one every 15 s and drop a socket silent for more than 30 s.
//!
//! The upgrade is done on hyper's connection with our own tokio-tungstenite (axum's `ws`
//! feature would bring a second tungstenite).

use super::engine::{Game, DEFAULT_SOFT_LIMIT};
use super::event::GameHubEvent;
use super::game::{Change, GameConfig, PulseMode};
use super::http::Api;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Our heartbeat, as upstream's.
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_secs(15);
/// A socket silent this long is dropped.
pub(crate) const SILENT_LIMIT: Duration = Duration::from_secs(30);
/// How often a bound socket's game is compared with what it was last told.
const PUSH_EVERY: Duration = Duration::from_millis(200);
/// Largest frame accepted (upstream's frames are a few hundred bytes; a custom pulse list
/// a few KiB).
const MAX_FRAME: usize = 64 * 1024;

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `GET /ws`: the WebSocket handshake, then [`session`] on its own task.
pub(crate) async fn upgrade(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
) -> Response {
    let h = req.headers();
    let key = h.get(header::SEC_WEBSOCKET_KEY).map(HeaderValue::as_bytes);
    let ok = header_has(h, header::UPGRADE, "websocket")
        && header_has(h, header::CONNECTION, "upgrade")
        && h.get(header::SEC_WEBSOCKET_VERSION)
            .map(HeaderValue::as_bytes)
            == Some(b"13");
    let (true, Some(key)) = (ok, key) else {
        return (StatusCode::BAD_REQUEST, "Bad Request").into_response();
    };
    let accept = derive_accept_key(key);
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(MAX_FRAME))
                    .max_frame_size(Some(MAX_FRAME));
                let io = hyper_util::rt::TokioIo::new(upgraded);
                let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                session(api, peer, ws).await;
            }
            Err(e) => log::debug!("game API /ws upgrade from {peer}: {e}"),
        }
    });
    let mut res = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let out = res.headers_mut();
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    out.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        out.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}

/// What a bound socket was last told, so only changes are pushed.
#[derive(Default, PartialEq)]
struct Told {
    strength: Option<Value>,
    config: Option<Value>,
    main: Option<Value>,
    connected: Option<bool>,
    started: Option<bool>,
}

/// One socket: its game, once bound, and what it was told.
struct Conn {
    api: Api,
    peer: SocketAddr,
    game: Option<Arc<Game>>,
    told: Told,
}

fn event(name: &str, data: Value) -> Value {
    json!({"event": name, "data": data})
}

fn response(request_id: &Value, status: u8, message: Option<&str>) -> Value {
    let mut data = json!({"status": status});
    if let Some(m) = message {
        data["message"] = json!(m);
    }
    json!({"event": "response", "requestId": request_id, "data": data})
}

impl Conn {
    /// The events that bring the socket up to date with its game.
    fn changes(&mut self) -> Vec<Value> {
        let Some(g) = self.game.clone() else {
            return vec![];
        };
        let now = Instant::now();
        let report = g.terminal.last_report();
        let ceiling = g.ceiling(&self.api.games.shared.safety);
        let (strength, main, config) = {
            let mut st = g.lock();
            let boost = st.live_fire(now).map_or(0, |f| f.boost);
            let strength = json!({
                "strength": report.map_or(0, |r| r.a),
                "limit": report.map_or(DEFAULT_SOFT_LIMIT, |r| r.limit_a),
                "tempStrength": boost,
            });
            let config = json!({
                "strength": st.strength.strength.min(ceiling),
                "randomStrength": st.strength.random_strength,
            });
            (strength, st.config.to_json(), config)
        };
        let connected = g.current();
        let started = self.api.games.output_on();
        let mut out = vec![];
        if self.told.main.as_ref() != Some(&main) {
            out.push(event(
                "gameConfigUpdated",
                json!({"type": "main-game", "config": main}),
            ));
            if self.told.main.is_none() {
                out.push(event(
                    "gameConfigUpdated",
                    json!({"type": "custom-pulse", "config": {"customPulseList": []}}),
                ));
            }
            self.told.main = Some(main);
        }
        if self.told.strength.as_ref() != Some(&strength) {
            out.push(event("strengthChanged", strength.clone()));
            self.told.strength = Some(strength);
        }
        if self.told.config.as_ref() != Some(&config) {
            out.push(event("strengthConfigUpdated", config.clone()));
            self.told.config = Some(config);
        }
        if self.told.connected != Some(connected) {
            // At bind, only a paired App is worth saying.
            if connected || self.told.connected.is_some() {
                let name = if connected {
                    "clientConnected"
                } else {
                    "clientDisconnected"
                };
                out.push(json!({"event": name}));
            }
            self.told.connected = Some(connected);
        }
        if self.told.started != Some(started) {
            let name = if started {
                "gameStarted"
            } else {
                "gameStopped"
            };
            out.push(json!({"event": name}));
            self.told.started = Some(started);
        }
        out
    }

    /// Answers one frame; `None` ignores it (upstream ignores frames without a requestId).
    fn handle(&mut self, text: &str) -> Vec<Value> {
        let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) else {
            return vec![];
        };
        let Some(rid) = m.get("requestId").filter(|v| !v.is_null()).cloned() else {
            return vec![];
        };
        let action = m.get("action").and_then(Value::as_str).unwrap_or("");
        match action {
            "heartbeat" => vec![],
            "bindClient" => self.bind(&rid, m.get("clientId")),
            "updateStrengthConfig" => self.update_strength(&rid, m.get("config")),
            "updateConfig" => self.update_config(&rid, m.get("type"), m.get("config")),
            "startGame" => {
                if self.api.config.start_output_on_request {
                    self.api.games.shared.start_on_request();
                }
                if self.api.games.output_on() {
                    vec![response(&rid, 1, None)]
                } else {
                    vec![response(
                        &rid,
                        0,
                        Some("game output is switched on in DG-LAB Hub (never by itself after an emergency stop)"),
                    )]
                }
            }
            "stopGame" => {
                let _ = self.api.games.set_output(false);
                let mut out = self.changes();
                out.push(response(&rid, 1, None));
                out
            }
            "kickClient" | "refreshConnectCode" => {
                vec![response(&rid, 0, Some("not supported by DG-LAB Hub"))]
            }
            _ => vec![response(&rid, 0, Some("unknown action"))],
        }
    }

    fn bind(&mut self, rid: &Value, id: Option<&Value>) -> Vec<Value> {
        let id = id.and_then(Value::as_str).unwrap_or("");
        let game = self
            .api
            .games
            .shared
            .games()
            .into_iter()
            .find(|g| g.id().to_string() == id);
        let Some(game) = game else {
            return vec![response(
                rid,
                0,
                Some("no game with this id: use the id of the connect code"),
            )];
        };
        self.game = Some(game);
        self.told = Told::default();
        let mut out = self.changes();
        out.push(response(rid, 1, None));
        out
    }

    /// The bound game, unless the stop blocks writes (then the refusal, said and logged).
    fn writable(&self, rid: &Value, request: &str) -> Result<Arc<Game>, Value> {
        let Some(g) = self.game.clone() else {
            return Err(response(rid, 0, Some("bindClient first")));
        };
        if self.api.games.shared.blocked().is_some() {
            self.api.games.shared.emit(GameHubEvent::ApiRefused {
                peer: self.peer,
                request: request.to_owned(),
                why: "the emergency stop is latched or the lease lapsed".to_owned(),
            });
            return Err(response(
                rid,
                0,
                Some("the emergency stop is latched: nothing was changed; re-arm in DG-LAB Hub first"),
            ));
        }
        Ok(g)
    }

    fn update_strength(&mut self, rid: &Value, config: Option<&Value>) -> Vec<Value> {
        let request = "WS /ws updateStrengthConfig";
        let num = |k: &str| {
            config
                .and_then(|c| c.get(k))
                .and_then(super::body::int)
                .filter(|v| (0..=200).contains(v))
        };
        let (Some(s), Some(r)) = (num("strength"), num("randomStrength")) else {
            return vec![response(
                rid,
                0,
                Some("config.strength and config.randomStrength must be integers from 0 to 200"),
            )];
        };
        let g = match self.writable(rid, request) {
            Ok(g) => g,
            Err(refusal) => return vec![refusal],
        };
        let ceiling = g.ceiling(&self.api.games.shared.safety);
        let detail = {
            let mut st = g.lock();
            st.change_strength(Some(Change::Set(s)), Some(Change::Set(r)), ceiling);
            format!(
                "strength {}, random {}",
                st.strength.strength, st.strength.random_strength
            )
        };
        g.wake();
        self.api.wrote(self.peer, request.to_owned(), &[g], detail);
        self.changes()
    }

    fn update_config(
        &mut self,
        rid: &Value,
        kind: Option<&Value>,
        config: Option<&Value>,
    ) -> Vec<Value> {
        let request = "WS /ws updateConfig";
        if kind.and_then(Value::as_str) != Some("main-game") {
            return vec![response(rid, 0, Some("only type main-game is supported"))];
        }
        let g = match self.writable(rid, request) {
            Ok(g) => g,
            Err(refusal) => return vec![refusal],
        };
        let before = g.lock().config.clone();
        let next = match merge_config(before, config) {
            Ok(c) => c,
            Err(why) => return vec![response(rid, 0, Some(&why))],
        };
        let detail = format!("game config {}", next.to_json());
        let ids = next.pulse_ids.clone();
        {
            let mut st = g.lock();
            st.config = next;
            st.select_pulses(ids, Instant::now());
        }
        g.wake();
        self.api.wrote(self.peer, request.to_owned(), &[g], detail);
        let mut out = self.changes();
        out.push(response(rid, 1, None));
        out
    }
}

/// Upstream's `MainGameConfig` fields over `config`; absent fields stay, wrong ones refuse
/// the whole update.
fn merge_config(mut c: GameConfig, v: Option<&Value>) -> Result<GameConfig, String> {
    let Some(Value::Object(m)) = v else {
        return Err("config must be an object".into());
    };
    let int = |k: &str, max: i64| -> Result<Option<i64>, String> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => super::body::int(x)
                .filter(|n| (0..=max).contains(n))
                .map(Some)
                .ok_or_else(|| format!("{k} must be an integer from 0 to {max}")),
        }
    };
    if let Some(n) = int("fireStrengthLimit", 200)? {
        c.fire_strength_limit = n as u8;
    }
    if let Some(n) = int("bChannelStrengthMultiplier", 10)? {
        c.b_channel_strength_multiplier = (n as u8).max(1);
    }
    if let Some(n) = int("pulseChangeInterval", 86_400)? {
        c.pulse_change_interval = (n as u32).max(1);
    }
    if let Some(x) = m.get("enableBChannel").filter(|x| !x.is_null()) {
        c.enable_b_channel =
            super::body::boolean(x).ok_or("enableBChannel must be true or false")?;
    }
    if let Some(x) = m.get("strengthChangeInterval").filter(|x| !x.is_null()) {
        let pair: Option<Vec<u32>> = x.as_array().map(|a| {
            a.iter()
                .filter_map(|n| super::body::int(n).filter(|n| (1..=3600).contains(n)))
                .map(|n| n as u32)
                .collect()
        });
        match pair.as_deref() {
            Some([lo, hi]) if lo <= hi => c.strength_change_interval = [*lo, *hi],
            _ => return Err("strengthChangeInterval must be [min, max] seconds".into()),
        }
    }
    if let Some(x) = m.get("pulseMode").filter(|x| !x.is_null()) {
        c.pulse_mode = match x.as_str() {
            Some("single") => PulseMode::Single,
            Some("sequence") => PulseMode::Sequence,
            Some("random") => PulseMode::Random,
            _ => return Err("pulseMode must be single, sequence or random".into()),
        };
    }
    if let Some(x) = m.get("pulseId").filter(|x| !x.is_null()) {
        let ids: Option<Vec<String>> = match x {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) => a.iter().map(|s| s.as_str().map(str::to_owned)).collect(),
            _ => None,
        };
        match ids {
            Some(ids)
                if !ids.is_empty()
                    && ids.len() <= 64
                    && ids.iter().all(|s| !s.is_empty() && s.len() <= 64) =>
            {
                c.pulse_ids = ids;
            }
            _ => return Err("pulseId must be a pulse id or a list of them".into()),
        }
    }
    match m.get("firePulseId") {
        None => {}
        Some(Value::Null) => c.fire_pulse_id = None,
        Some(Value::String(s)) if s.is_empty() => c.fire_pulse_id = None,
        Some(Value::String(s)) if s.len() <= 64 => c.fire_pulse_id = Some(s.clone()),
        Some(_) => return Err("firePulseId must be a pulse id".into()),
    }
    Ok(c)
}

async fn session<S>(api: Api, peer: SocketAddr, ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    log::debug!("game API /ws: {peer} connected");
    let stop = api.stop.clone();
    let (mut tx, mut rx) = ws.split();
    let mut conn = Conn {
        api,
        peer,
        game: None,
        told: Told::default(),
    };
    let mut last_heard = Instant::now();
    let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT_EVERY, HEARTBEAT_EVERY);
    let mut push = tokio::time::interval(PUSH_EVERY);
    push.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let out: Vec<Value> = tokio::select! {
            () = stop.cancelled() => break,
            frame = rx.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    last_heard = Instant::now();
                    conn.handle(t.as_str())
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {
                    last_heard = Instant::now();
                    vec![]
                }
                Some(Err(e)) => {
                    log::debug!("game API /ws {peer}: {e}");
                    break;
                }
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > SILENT_LIMIT {
                    log::debug!("game API /ws {peer}: silent for {} s, dropped", SILENT_LIMIT.as_secs());
                    break;
                }
                vec![json!({"event": "heartbeat"})]
            }
            _ = push.tick(), if conn.game.is_some() => conn.changes(),
        };
        for v in out {
            if tx.send(Message::text(v.to_string())).await.is_err() {
                return;
            }
        }
    }
    let _ = tx.send(Message::Close(None)).await;
    log::debug!("game API /ws: {peer} left");
}
