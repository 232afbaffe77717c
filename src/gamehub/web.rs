//! Our own pages on the game API's server: a phone-friendly **remote** (`/remote`) and a
//! read-only **overlay** for an OBS browser source (`/overlay?clientId=<id>`, also at
//! Game-Hub's OBS widget path `/viewer.html?clientId=<id>`), plus the few `/api/x/…`
//! extensions (spec §6.9: our namespace, upstream's shapes untouched) they need:
//!
//! - `GET  /api/x/game/{id}/status`: what the overlay draws (per-channel strength, caps,
//!   fire, stop), read-only.
//! - `POST /api/x/game/{id}/channel` `{channel: "a"|"b", strength}`: A sets the game's
//!   base strength, B is set directly while B does not follow A; both through the gate.
//! - `POST /api/x/stop`: the hub's real emergency stop (latched), not "strength 0".
//!
//! The pages are static (embedded with `include_str!`, no secrets in them), so the door
//! serves them without the token; everything they *do* goes through the API, which asks
//! the token of every caller from another machine (`Authorization: Bearer`, never a
//! cookie, so a foreign page cannot ride on it). Being served from this server, they are
//! the "own pages" the door's Origin rule accepts.

use super::engine::{Game, DEFAULT_SOFT_LIMIT};
use super::envelope::ok;
use super::game::Change;
use super::http::{invalid, read_body, Api, Refusal};
use crate::protocol::command::Channel;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::time::Instant;

/// The static pages and assets: path, content type, body.
const PAGES: &[(&str, &str, &str)] = &[
    ("/remote", HTML, include_str!("web/remote.html")),
    ("/overlay", HTML, include_str!("web/overlay.html")),
    ("/viewer.html", HTML, include_str!("web/overlay.html")),
    ("/web/remote.js", JS, include_str!("web/remote.js")),
    ("/web/overlay.js", JS, include_str!("web/overlay.js")),
    ("/web/common.js", JS, include_str!("web/common.js")),
    ("/web/web.css", CSS, include_str!("web/web.css")),
];
const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Whether `GET path` is one of the static pages (the door lets these through without
/// the token: they hold nothing but code).
pub(crate) fn is_page(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && PAGES.iter().any(|(p, _, _)| *p == path)
}

/// The pages' and extensions' routes, merged into the API's router.
pub(crate) fn routes() -> Router<Api> {
    let mut r = Router::new();
    for (path, ctype, body) in PAGES {
        r = r.route(path, get(move || async move { page(ctype, body) }));
    }
    r.route("/api/x/game/{id}/status", get(status))
        .route("/api/x/game/{id}/channel", post(set_channel))
        .route("/api/x/stop", post(stop))
}

fn page(ctype: &'static str, body: &'static str) -> Response {
    let mut res = ([(header::CONTENT_TYPE, ctype)], body).into_response();
    let h = res.headers_mut();
    // Scripts only from here, nothing framed elsewhere, the URL (maybe a token in its
    // query) never sent on.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// One game as the overlay and the remote show it.
pub(crate) fn game_view(api: &Api, g: &Game) -> Value {
    let now = Instant::now();
    let safety = &api.games.shared.safety;
    let report = g.terminal.last_report();
    let (level, soft) = match report {
        Some(r) => ([r.a, r.b], [r.limit_a, r.limit_b]),
        None => ([0, 0], [DEFAULT_SOFT_LIMIT; 2]),
    };
    let cap = [safety.cap(Channel::A), safety.cap(Channel::B)];
    let ceiling = g.ceiling(safety);
    let mut st = g.lock();
    let fire = st
        .live_fire(now)
        .map(|f| json!({"boost": f.boost, "msLeft": f.end.duration_since(now).as_millis() as u64}));
    let pulse = st.current_pulse(now);
    json!({
        "clientId": g.id().to_string(),
        "connected": g.current(),
        "strength": {"a": level[0], "b": level[1]},
        "softLimit": {"a": soft[0], "b": soft[1]},
        "cap": {"a": cap[0], "b": cap[1]},
        "max": {"a": ceiling, "b": soft[1].min(cap[1])},
        "strengthConfig": {"strength": st.strength.strength.min(ceiling), "randomStrength": st.strength.random_strength},
        "bFollowsA": st.config.enable_b_channel,
        "fire": fire,
        "pulseId": pulse,
        "output": api.games.output_on(),
        "stopped": api.games.shared.blocked().is_some(),
    })
}

async fn status(State(api): State<Api>, Path(id): Path<String>) -> Result<Response, Refusal> {
    // One of ours answers even while its App is away (the overlay shows it offline).
    let own = api
        .games
        .shared
        .games()
        .into_iter()
        .find(|g| g.id().to_string() == id);
    let g = match own {
        Some(g) => g,
        None => api.read_target(&id)?,
    };
    Ok(ok(json!({"game": game_view(&api, &g)})))
}

async fn set_channel(
    State(api): State<Api>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, Refusal> {
    let request = format!("POST {}", uri.path());
    let body = read_body(&headers, &bytes)?;
    let channel = match body.get("channel").and_then(Value::as_str) {
        Some("a" | "A") => Channel::A,
        Some("b" | "B") => Channel::B,
        _ => return Err(invalid("channel must be \"a\" or \"b\"")),
    };
    let value = match body.get("strength").and_then(super::body::int) {
        Some(v) if (0..=200).contains(&v) => v as u8,
        _ => return Err(invalid("strength must be an integer from 0 to 200")),
    };
    let games = api.write_targets(&id)?;
    api.refuse_if_stopped(peer, &request)?;
    let mut detail = vec![];
    for g in &games {
        if channel == Channel::A {
            let ceiling = g.ceiling(&api.games.shared.safety);
            let mut st = g.lock();
            st.change_strength(Some(Change::Set(i64::from(value))), None, ceiling);
            detail.push(format!("base A {}", st.strength.strength));
            drop(st);
            g.wake();
        } else {
            if g.lock().config.enable_b_channel {
                return Err(invalid(
                    "channel B follows A in game mode; switch that off to set B",
                ));
            }
            match g.terminal.set_strength(Channel::B, value) {
                Ok(_) => detail.push(format!("B {value}")),
                Err(e) => return Err(invalid(&format!("channel B: {e}"))),
            }
        }
    }
    api.wrote(peer, request, &games, detail.join("; "));
    Ok(ok(json!({
        "message": format!("strength set for {} game(s)", games.len()),
        "successClientIds": games.iter().map(|g| g.id().to_string()).collect::<Vec<_>>(),
    })))
}

async fn stop(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
) -> Response {
    let report = api.games.shared.safety.emergency_stop();
    api.games.shared.emit(super::event::GameHubEvent::ApiWrite {
        peer,
        request: format!("POST {}", uri.path()),
        games: api.games.shared.games().iter().map(|g| g.id()).collect(),
        detail: "emergency stop".to_owned(),
    });
    log::debug!("emergency stop from the web remote: {report:?}");
    ok(json!({"message": "emergency stop latched; re-arm in DG-LAB Hub"}))
}
