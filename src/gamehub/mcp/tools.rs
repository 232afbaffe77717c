//! The MCP tools: ours (`status`, `set_strength`, `increase_strength`,
//! `decrease_strength`, `play_pulse`, `fire`, `stop`) and Game-Hub's legacy names
//! (docs/gamehub-api.md §5.2), several of which are the same tool.
//!
//! Every write takes the HTTP API's path: the games a call addresses, the stop check
//! (refused while latched or lapsed, said as an `ApiRefused` event), the change on the
//! game's state — whose output loop sends it through the safety gate (caps, soft limits,
//! rise rate) — and an `ApiWrite` event naming the caller. `stop` is the hub's real
//! emergency stop: it latches, and from then on nothing moves until the user re-arms.

use super::jsonrpc::{
    RpcError, GAME_NOT_FOUND, INVALID_PARAMS, INVALID_PULSE, NOT_CONNECTED, OPERATION_FAILED,
};
use super::Session;
use crate::gamehub::body;
use crate::gamehub::engine::Game;
use crate::gamehub::event::GameHubEvent;
use crate::gamehub::game::{Change, MAX_FIRE_TIME};
use crate::gamehub::http::Api;
use crate::protocol::command::Channel;
use crate::safety::SafetyError;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::{Duration, Instant};

/// The resource every session can read (Game-Hub's one).
pub(crate) const STRENGTH_URI: &str = "game://strength";

/// Who is calling and on which session.
pub(crate) struct Caller<'a> {
    pub(crate) api: &'a Api,
    pub(crate) peer: SocketAddr,
    pub(crate) session: &'a mut Session,
}

const GAME_ID: &str = "The game's id (the UUID of its connect code), or \"all\" for every paired App. Optional: defaults to the session's game (connect_game, or the /api/mcp/{gameId} URL), else all.";

fn schema(props: Value, required: &[&str]) -> Value {
    let mut p = props;
    if let Value::Object(m) = &mut p {
        m.insert(
            "gameId".into(),
            json!({"type": "string", "description": GAME_ID}),
        );
    }
    json!({"type": "object", "properties": p, "required": required})
}

fn strength_prop(what: &str) -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": 200, "description": what})
}

/// `tools/list`.
pub(crate) fn list() -> Value {
    let amount = || {
        schema(
            json!({"amount": {"type": "integer", "minimum": 1, "maximum": 200, "description": "By how much (default 1)."}}),
            &[],
        )
    };
    let fire = || {
        schema(
            json!({
                "strength": strength_prop("Boost added on top of the base strength (limited by the game's fire limit, the App's soft limit and the user's cap)."),
                "duration": {"type": "integer", "minimum": 1, "maximum": 300000, "description": "Milliseconds (default 5000); repeated fires add up, at most 300 s."},
                "pulseId": {"type": "string", "description": "Pulse to play during the fire (see get_pulse_list)."}
            }),
            &["strength"],
        )
    };
    let empty = || json!({"type": "object", "properties": {}});
    let tools = [
        ("status", "Status of the DG-LAB Coyote games: paired App, its current strength and soft limits, the user's caps, base strength, fire, pulse, whether output is on and whether the emergency stop is latched.", schema(json!({}), &[])),
        ("set_strength", "Set the base strength of channel A. Silently limited to the App's soft limit and the user's cap; refused after an emergency stop.", schema(json!({"strength": strength_prop("The new base strength.")}), &["strength"])),
        ("increase_strength", "Raise the base strength (within the App's soft limit and the user's cap).", amount()),
        ("decrease_strength", "Lower the base strength.", amount()),
        ("play_pulse", "Play a pulse (a waveform preset) by id or name; see get_pulse_list.", schema(json!({"pulse": {"type": "string", "description": "Pulse id or preset name."}}), &["pulse"])),
        ("fire", "A short boost on top of the base strength for a while, then back to base.", fire()),
        ("stop", "EMERGENCY STOP: every App to 0 at once. Latches: nothing moves again until the user re-arms in DG-LAB Hub.", empty()),
        ("get_pulse_list", "The pulses that can be played (id and name).", empty()),
        ("connect_game", "Game-Hub: choose the game this session addresses.", json!({"type": "object", "properties": {"gameId": {"type": "string", "description": "The game's id, or \"all\"."}}, "required": ["gameId"]})),
        ("disconnect_game", "Game-Hub: forget the game chosen with connect_game (back to all).", empty()),
        ("get_game_status", "Game-Hub's name for status.", schema(json!({}), &[])),
        ("set_pulse", "Game-Hub: select a pulse by id.", schema(json!({"pulseId": {"type": "string", "description": "A pulse id from get_pulse_list."}}), &["pulseId"])),
        ("fire_action", "Game-Hub's name for fire.", fire()),
        ("get_resources_list", "Game-Hub: the readable resources.", empty()),
        ("get_resource", "Game-Hub: read a resource (game://strength).", json!({"type": "object", "properties": {"uri": {"type": "string"}}, "required": ["uri"]})),
    ];
    let list: Vec<Value> = tools
        .into_iter()
        .map(|(name, description, input)| {
            json!({"name": name, "description": description, "inputSchema": input})
        })
        .collect();
    json!({"tools": list})
}

/// `tools/call`: the tool's result, or a JSON-RPC error.
pub(crate) fn call(c: &mut Caller, params: &Value) -> Result<Value, RpcError> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::new(INVALID_PARAMS, "tools/call needs a tool name"))?;
    let empty = Map::new();
    let args = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err(RpcError::new(INVALID_PARAMS, "arguments must be an object")),
    };
    let out = match name {
        "status" | "get_game_status" => status(c, args)?,
        "set_strength" => {
            let s = int_arg(args, "strength", 0, 200)?.ok_or_else(|| missing("strength"))?;
            strength(c, name, args, Change::Set(s))?
        }
        "increase_strength" => {
            let n = int_arg(args, "amount", 1, 200)?.unwrap_or(1);
            strength(c, name, args, Change::Add(n))?
        }
        "decrease_strength" => {
            let n = int_arg(args, "amount", 1, 200)?.unwrap_or(1);
            strength(c, name, args, Change::Sub(n))?
        }
        "play_pulse" => pulse(c, name, args, "pulse", true)?,
        "set_pulse" => pulse(c, name, args, "pulseId", false)?,
        "fire" | "fire_action" => fire(c, name, args)?,
        "stop" => stop(c),
        "get_pulse_list" => {
            let list: Vec<Value> = c
                .api
                .games
                .shared
                .catalogue()
                .into_iter()
                .map(|p| json!({"id": p.id, "name": p.name}))
                .collect();
            json!({"pulseList": list})
        }
        "connect_game" => {
            let id = str_arg(args, "gameId")?.ok_or_else(|| missing("gameId"))?;
            if id != "all"
                && !c
                    .api
                    .games
                    .shared
                    .games()
                    .iter()
                    .any(|g| g.id().to_string() == id)
            {
                return Err(RpcError::new(GAME_NOT_FOUND, format!("no game {id} here")));
            }
            c.session.game = Some(id.to_owned());
            json!({"message": format!("connected to game {id}"), "gameId": id})
        }
        "disconnect_game" => {
            if c.session.fixed {
                return Err(RpcError::new(
                    OPERATION_FAILED,
                    "this session's game is fixed by its URL (/api/mcp/{gameId})",
                ));
            }
            c.session.game = None;
            json!({"message": "disconnected: calls address every paired game"})
        }
        "get_resources_list" => resources_list(),
        "get_resource" => {
            let uri = str_arg(args, "uri")?.ok_or_else(|| missing("uri"))?;
            resource(c, uri)?
        }
        other => {
            return Err(RpcError::new(
                INVALID_PARAMS,
                format!("unknown tool: {other}"),
            ))
        }
    };
    let text = serde_json::to_string_pretty(&out).unwrap_or_default();
    Ok(json!({"content": [{"type": "text", "text": text}], "isError": false}))
}

fn missing(what: &str) -> RpcError {
    RpcError::new(INVALID_PARAMS, format!("{what} is required"))
}

fn int_arg(
    args: &Map<String, Value>,
    key: &str,
    lo: i64,
    hi: i64,
) -> Result<Option<i64>, RpcError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match body::int(v) {
            Some(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(RpcError::new(
                INVALID_PARAMS,
                format!("{key} must be an integer from {lo} to {hi}"),
            )),
        },
    }
}

fn str_arg<'a>(args: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, RpcError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 64 => Ok(Some(s)),
        Some(_) => Err(RpcError::new(
            INVALID_PARAMS,
            format!("{key} must be a string of at most 64 characters"),
        )),
    }
}

/// The id a call addresses: its `gameId`, the session's game, or `all`.
fn addressed(c: &Caller, args: &Map<String, Value>) -> Result<String, RpcError> {
    Ok(match str_arg(args, "gameId")? {
        Some(id) => id.to_owned(),
        None => c.session.game.clone().unwrap_or_else(|| "all".into()),
    })
}

/// Our games the id names, paired or not.
fn ours(c: &Caller, id: &str) -> Result<Vec<Arc<Game>>, RpcError> {
    let games = c.api.games.shared.games();
    if id == "all" {
        if !c.api.config.allow_broadcast {
            return Err(RpcError::new(
                GAME_NOT_FOUND,
                "addressing every game (all) is switched off: connect_game with a game id",
            ));
        }
        return Ok(games);
    }
    let one: Vec<_> = games
        .into_iter()
        .filter(|g| g.id().to_string() == id)
        .collect();
    if one.is_empty() {
        return Err(RpcError::new(GAME_NOT_FOUND, format!("no game {id} here")));
    }
    Ok(one)
}

/// The paired games a write addresses, after the stop check.
fn write_targets(
    c: &Caller,
    tool: &str,
    args: &Map<String, Value>,
) -> Result<Vec<Arc<Game>>, RpcError> {
    let paired: Vec<_> = ours(c, &addressed(c, args)?)?
        .into_iter()
        .filter(|g| g.current())
        .collect();
    if paired.is_empty() {
        return Err(RpcError::new(
            NOT_CONNECTED,
            "no DG-LAB App is paired with this game",
        ));
    }
    if let Some(e) = c.api.games.shared.blocked() {
        let why = match e {
            SafetyError::LeaseLapsed => "the controller's lease lapsed",
            _ => "the emergency stop is latched",
        };
        c.api.games.shared.emit(GameHubEvent::ApiRefused {
            peer: c.peer,
            request: request(tool),
            why: why.to_owned(),
        });
        return Err(RpcError::new(
            OPERATION_FAILED,
            format!("{why}: nothing was changed; the user must re-arm in DG-LAB Hub first"),
        ));
    }
    Ok(paired)
}

fn request(tool: &str) -> String {
    format!("MCP tools/call {tool}")
}

/// The write was taken: start output where configured, and tell the window and the log.
fn wrote(c: &Caller, tool: &str, games: &[Arc<Game>], detail: String) {
    if c.api.config.start_output_on_request {
        c.api.games.shared.start_on_request();
    }
    c.api.games.shared.emit(GameHubEvent::ApiWrite {
        peer: c.peer,
        request: request(tool),
        games: games.iter().map(|g| g.id()).collect(),
        detail,
    });
}

fn game_status(c: &Caller, g: &Game, now: Instant) -> Value {
    let shared = &c.api.games.shared;
    let ceiling = g.ceiling(&shared.safety);
    let report = g.terminal.last_report();
    let mut st = g.lock();
    let fire = st
        .live_fire(now)
        .map(|f| json!({"boost": f.boost, "msLeft": f.end.duration_since(now).as_millis() as u64}));
    json!({
        "gameId": g.id().to_string(),
        "appPaired": g.current(),
        "app": report.map(|r| json!({"strengthA": r.a, "strengthB": r.b, "softLimitA": r.limit_a, "softLimitB": r.limit_b})),
        "caps": {"a": shared.safety.cap(Channel::A), "b": shared.safety.cap(Channel::B)},
        "baseStrength": st.strength.strength.min(ceiling),
        "randomStrength": st.strength.random_strength,
        "maxBaseStrength": ceiling,
        "fire": fire,
        "fireStrengthLimit": st.config.fire_strength_limit,
        "pulseIds": st.config.pulse_ids.clone(),
        "currentPulseId": st.current_pulse(now),
    })
}

fn status(c: &Caller, args: &Map<String, Value>) -> Result<Value, RpcError> {
    let games = ours(c, &addressed(c, args)?)?;
    let now = Instant::now();
    let shared = &c.api.games.shared;
    let list: Vec<Value> = games.iter().map(|g| game_status(c, g, now)).collect();
    Ok(json!({
        "emergencyStopLatched": shared.safety.is_latched(),
        "outputOn": c.api.games.output_on(),
        "games": list,
    }))
}

fn strength(
    c: &mut Caller,
    tool: &str,
    args: &Map<String, Value>,
    change: Change,
) -> Result<Value, RpcError> {
    let games = write_targets(c, tool, args)?;
    let mut detail = vec![];
    let mut now_at = vec![];
    for g in &games {
        let ceiling = g.ceiling(&c.api.games.shared.safety);
        let mut st = g.lock();
        let before = st.strength.strength;
        st.change_strength(Some(change), None, ceiling);
        detail.push(format!("strength {before}→{}", st.strength.strength));
        now_at.push(json!({"gameId": g.id().to_string(), "baseStrength": st.strength.strength, "maxBaseStrength": ceiling}));
        drop(st);
        g.wake();
    }
    wrote(c, tool, &games, detail.join("; "));
    Ok(json!({
        "message": format!("base strength changed on {} game(s), within the App's soft limit and the user's cap", games.len()),
        "games": now_at,
    }))
}

fn pulse(
    c: &mut Caller,
    tool: &str,
    args: &Map<String, Value>,
    key: &str,
    by_name: bool,
) -> Result<Value, RpcError> {
    let want = str_arg(args, key)?.ok_or_else(|| missing(key))?;
    let list = c.api.games.shared.catalogue();
    let found = list
        .iter()
        .find(|p| p.id == want)
        .or_else(|| {
            by_name
                .then(|| list.iter().find(|p| p.name == want))
                .flatten()
        })
        .ok_or_else(|| {
            RpcError::new(
                INVALID_PULSE,
                format!("no pulse {want}: see get_pulse_list"),
            )
        })?;
    let id = found.id.clone();
    let games = write_targets(c, tool, args)?;
    let now = Instant::now();
    for g in &games {
        g.lock().select_pulses(vec![id.clone()], now);
        g.wake();
    }
    wrote(c, tool, &games, format!("pulse {id}"));
    Ok(
        json!({"message": format!("playing {} ({id}) on {} game(s)", found.name, games.len()), "pulseId": id}),
    )
}

fn fire(c: &mut Caller, tool: &str, args: &Map<String, Value>) -> Result<Value, RpcError> {
    let strength = int_arg(args, "strength", 0, 200)?.ok_or_else(|| missing("strength"))? as u8;
    let max = MAX_FIRE_TIME.as_millis() as i64;
    let time = int_arg(args, "duration", 1, max)?.unwrap_or(5000);
    let pulse = match str_arg(args, "pulseId")? {
        None | Some("") => None,
        Some(p) => {
            if !c.api.games.shared.catalogue().iter().any(|x| x.id == p) {
                return Err(RpcError::new(
                    INVALID_PULSE,
                    format!("no pulse {p}: see get_pulse_list"),
                ));
            }
            Some(p.to_owned())
        }
    };
    let games = write_targets(c, tool, args)?;
    let dur = Duration::from_millis(time as u64);
    let now = Instant::now();
    for g in &games {
        // Game-Hub's MCP fire always appends.
        g.lock().fire(strength, dur, false, pulse.clone(), now);
        g.wake();
    }
    wrote(c, tool, &games, format!("fire +{strength} for {time} ms"));
    Ok(
        json!({"message": format!("fire +{strength} for {time} ms on {} game(s), within the fire limit, the App's soft limit and the user's cap", games.len())}),
    )
}

fn stop(c: &mut Caller) -> Value {
    let shared = &c.api.games.shared;
    shared.safety.emergency_stop();
    let games = shared.games();
    shared.emit(GameHubEvent::ApiWrite {
        peer: c.peer,
        request: request("stop"),
        games: games.iter().map(|g| g.id()).collect(),
        detail: "emergency stop".into(),
    });
    json!({"message": "emergency stop: every App is at 0 and nothing moves until the user re-arms in DG-LAB Hub"})
}

/// `resources/list` (and the legacy tool of the same purpose).
pub(crate) fn resources_list() -> Value {
    json!({"resources": [{
        "uri": STRENGTH_URI,
        "name": "strength",
        "description": "The game's base strength, its limit and whether an App is paired.",
        "mimeType": "application/json"
    }]})
}

/// `resources/read` of `uri`.
pub(crate) fn resource(c: &Caller, uri: &str) -> Result<Value, RpcError> {
    if uri != STRENGTH_URI {
        return Err(RpcError::new(INVALID_PARAMS, format!("no resource {uri}")));
    }
    let games = ours(c, &addressed(c, &Map::new())?)?;
    let g = games
        .iter()
        .find(|g| g.current())
        .or(games.first())
        .ok_or_else(|| RpcError::new(GAME_NOT_FOUND, "no game here"))?;
    let ceiling = g.ceiling(&c.api.games.shared.safety);
    let st = g.lock();
    let updated = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let body = json!({
        "gameId": g.id().to_string(),
        "currentStrength": st.strength.strength.min(ceiling),
        "strengthLimit": ceiling,
        "randomStrength": st.strength.random_strength,
        "isConnected": g.current(),
        "isStarted": c.api.games.output_on(),
        "lastUpdated": updated,
    });
    Ok(
        json!({"contents": [{"uri": STRENGTH_URI, "mimeType": "application/json", "text": body.to_string()}]}),
    )
}
