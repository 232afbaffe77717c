//! The game API end to end: a relay on 127.0.0.1, our guarded local terminal as the game,
//! the HTTP API on 127.0.0.1:0, and a simulated App over a real socket that answers like
//! the real one (applies each absolute strength up to its soft limit and reports it).
//! Requests are raw HTTP/1.1 so every header (Host, Origin, Content-Type) is the test's.

mod common;

use common::{start_relay, Client};
use dglab_core::gamehub::{
    self, GameConfig, GameHub, GameHubEvent, HttpConfig, HttpError, HttpServer, PATHS,
};
use dglab_core::relay::RelayHandle;
use dglab_core::safety::{GuardedTerminal, SafetyConfig, SafetyHub};
use dglab_core::Terminal;
use futures_util::StreamExt;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(10);

/// What the simulated App received and where it is.
#[derive(Debug, Default)]
struct Seen {
    /// Every `message` from the terminal, in order.
    messages: Vec<String>,
    /// Current levels (after its own soft-limit clamp).
    level: [u8; 2],
    /// Its soft limits.
    limit: [u8; 2],
    /// The highest absolute strength it was ever sent, per channel.
    max_sent: [u8; 2],
}

impl Seen {
    fn pulses(&self, from: usize) -> usize {
        self.messages[from..]
            .iter()
            .filter(|m| m.starts_with("pulse-"))
            .count()
    }
}

/// The phone: reports its levels and limits at pairing and after every change.
struct App {
    seen: Arc<Mutex<Seen>>,
}

impl App {
    async fn pair(relay: &RelayHandle, terminal: Uuid, limit: [u8; 2]) -> App {
        let tid = terminal.to_string();
        let mut client = Client::connect(relay, &tid).await;
        let me = client.id.clone();
        client
            .send(json!({"type":"bind","clientId":tid,"targetId":me,"message":"DGLAB"}))
            .await;
        assert_eq!(client.recv().await["message"], "200");
        let seen = Arc::new(Mutex::new(Seen {
            limit,
            ..Seen::default()
        }));
        let report = |s: &Seen| {
            format!(
                "strength-{}+{}+{}+{}",
                s.level[0], s.level[1], s.limit[0], s.limit[1]
            )
        };
        let first = report(&seen.lock().unwrap());
        client.msg(&tid, &me, &first).await;
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = client.ws.next().await {
                let Message::Text(t) = m else { continue };
                let v: Value = serde_json::from_str(&t).unwrap();
                let Some(msg) = v["message"].as_str().map(str::to_owned) else {
                    continue;
                };
                let answer = {
                    let mut s = shared.lock().unwrap();
                    s.messages.push(msg.clone());
                    match msg.strip_prefix("strength-") {
                        Some(rest) => {
                            let p: Vec<u8> = rest.split('+').map(|x| x.parse().unwrap()).collect();
                            assert_eq!(p[1], 2, "only absolute strengths: {msg}");
                            let i = usize::from(p[0] - 1);
                            s.max_sent[i] = s.max_sent[i].max(p[2]);
                            let new = p[2].min(s.limit[i]);
                            (new != s.level[i]).then(|| {
                                s.level[i] = new;
                                report(&s)
                            })
                        }
                        None => None,
                    }
                };
                if let Some(r) = answer {
                    client.msg(&tid, &me, &r).await;
                }
            }
        });
        App { seen }
    }

    fn level(&self) -> [u8; 2] {
        self.seen.lock().unwrap().level
    }

    fn len(&self) -> usize {
        self.seen.lock().unwrap().messages.len()
    }

    async fn until(&self, what: &str, f: impl Fn(&Seen) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if f(&self.seen.lock().unwrap()) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("App never saw {what}: {:?}", self.seen.lock().unwrap());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A relay, the gate, our terminal as a game with output on, and the API.
struct Rig {
    relay: RelayHandle,
    hub: SafetyHub,
    games: GameHub,
    server: HttpServer,
    terminal: GuardedTerminal,
    id: Uuid,
}

impl Rig {
    async fn new(cap: u8) -> Rig {
        Rig::with(cap, HttpConfig::default()).await
    }

    async fn with(cap: u8, config: HttpConfig) -> Rig {
        Rig::build(cap, config, false).await
    }

    /// `policy`: the relay-wide policy too (the desktop app's setting), whose stop reaches
    /// every App ahead of its queue.
    async fn build(cap: u8, config: HttpConfig, policy: bool) -> Rig {
        let relay = start_relay().await;
        let hub = SafetyHub::new(SafetyConfig {
            cap_a: cap,
            cap_b: cap,
            max_rise_per_sec: 100,
            watchdog: None,
        })
        .unwrap();
        if policy {
            hub.guard_relay(&relay);
        }
        let (raw, events) = Terminal::local(&relay);
        let (terminal, _events) = hub.guard(raw, events);
        let games = GameHub::new(hub.clone(), None);
        games.add_terminal(terminal.clone());
        if !config.start_output_on_request {
            games.set_output(true).unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = gamehub::serve_http(listener, games.clone(), config).unwrap();
        let id = terminal.id();
        Rig {
            relay,
            hub,
            games,
            server,
            terminal,
            id,
        }
    }

    /// Pairs the simulated App and waits until the gate has its first report.
    async fn app(&self, limit: [u8; 2]) -> App {
        let app = App::pair(&self.relay, self.id, limit).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.terminal.last_report().is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no report reached the gate"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        app
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    async fn get(&self, path: &str) -> Value {
        json_of(request(self.addr(), "GET", path, &[], None).await)
    }

    async fn post_json(&self, path: &str, body: Value) -> Value {
        let b = body.to_string();
        json_of(
            request(
                self.addr(),
                "POST",
                path,
                &[],
                Some(("application/json", &b)),
            )
            .await,
        )
    }

    async fn post_form(&self, path: &str, body: &str) -> Value {
        json_of(
            request(
                self.addr(),
                "POST",
                path,
                &[],
                Some(("application/x-www-form-urlencoded", body)),
            )
            .await,
        )
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn json_of(r: Resp) -> Value {
    assert_eq!(r.status, 200, "{r:?}");
    serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {r:?}"))
}

/// One HTTP/1.1 request; `Host: 127.0.0.1:<port>` unless `headers` gives one.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> Resp {
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = match body {
        Some((ct, b)) => {
            if !ct.is_empty() {
                head.push_str(&format!("Content-Type: {ct}\r\n"));
            }
            b
        }
        None => "",
    };
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut raw = vec![];
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .expect("no answer")
        .ok();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn ok(v: &Value) {
    assert_eq!(
        (v["status"].as_i64(), v["code"].as_str()),
        (Some(1), Some("OK")),
        "{v}"
    );
}

fn fails(v: &Value, code: &str) {
    assert_eq!(
        (v["status"].as_i64(), v["code"].as_str()),
        (Some(0), Some(code)),
        "{v}"
    );
    assert!(v["message"].is_string(), "{v}");
}

#[tokio::test]
async fn the_version_probe_answers_on_both_paths() {
    let rig = Rig::new(40).await;
    for p in ["/api/game", "/api/v2/game"] {
        let v = rig.get(p).await;
        ok(&v);
        assert_eq!(
            (v["minApiVersion"].as_i64(), v["maxApiVersion"].as_i64()),
            (Some(1), Some(2))
        );
    }
}

#[tokio::test]
async fn game_info_is_null_while_offline_and_full_once_the_app_reports() {
    let rig = Rig::new(40).await;
    let id = rig.id.to_string();
    // An id that is none of ours: status 1 and nulls, no gameConfig (v2.0.0's shape).
    let v = rig.get(&format!("/api/v2/game/{}", Uuid::new_v4())).await;
    ok(&v);
    assert!(
        v["clientStrength"].is_null() && v["strengthConfig"].is_null(),
        "{v}"
    );
    assert!(v.get("gameConfig").is_none());
    // Ours before the App pairs: offline, but its settings are there.
    let v = rig.get(&format!("/api/game/{id}")).await;
    assert!(v["clientStrength"].is_null(), "{v}");
    assert_eq!(v["gameConfig"]["pulseId"], "d6f83af0");
    fails(&rig.get("/api/v2/game/all").await, "ERR::GAME_NOT_FOUND");

    let _app = rig.app([30, 50]).await;
    for p in [
        format!("/api/game/{id}"),
        format!("/api/v2/game/{id}"),
        "/api/v2/game/all".into(),
    ] {
        let v = rig.get(&p).await;
        ok(&v);
        assert_eq!(v["clientStrength"]["limit"], 30, "{v}");
        assert!(v["clientStrength"]["strength"].is_u64());
        assert_eq!(
            v["strengthConfig"],
            json!({"strength": 5, "randomStrength": 5})
        );
        let gc = &v["gameConfig"];
        assert_eq!(gc["fireStrengthLimit"], 30);
        assert_eq!(gc["strengthChangeInterval"], json!([15, 30]));
        assert_eq!(gc["enableBChannel"], false);
        assert_eq!(gc["pulseMode"], "single");
        // One pulse selected: a string, which strictly typed clients (DBD_QTE_go) need.
        assert_eq!(gc["pulseId"], "d6f83af0");
        assert_eq!(v["currentPulseId"], "d6f83af0");
    }
}

#[tokio::test]
async fn strength_config_reads_and_changes_with_json_and_forms_on_both_paths() {
    let rig = Rig::new(40).await;
    let id = rig.id.to_string();
    let v1 = format!("/api/game/{id}/strength_config");
    let v2 = format!("/api/v2/game/{id}/strength");
    fails(&rig.get(&v2).await, "ERR::GAME_NOT_FOUND");
    fails(
        &rig.post_json(&v2, json!({"strength":{"set":3}})).await,
        "ERR::GAME_NOT_FOUND",
    );
    let _app = rig.app([100, 100]).await;

    let v = rig
        .post_json(
            &v2,
            json!({"strength":{"set":10},"randomStrength":{"set":0}}),
        )
        .await;
    ok(&v);
    assert_eq!(v["successClientIds"], json!([id]));
    assert_eq!(
        rig.get(&v1).await["strengthConfig"],
        json!({"strength":10,"randomStrength":0})
    );
    // Form, dot notation (the AutoHotkey SDK), on the v1 path.
    ok(&rig.post_form(&v1, "strength.add=3").await);
    // Form, brackets.
    ok(&rig
        .post_form(&v2, "strength%5Bsub%5D=1&randomStrength[add]=2")
        .await);
    assert_eq!(
        rig.get(&v2).await["strengthConfig"],
        json!({"strength":12,"randomStrength":2})
    );
    // One operation per field, add before sub before set (AliceInCradle sends several).
    ok(&rig
        .post_json(&v1, json!({"strength":{"set":1,"sub":1,"add":2}}))
        .await);
    assert_eq!(rig.get(&v1).await["strengthConfig"]["strength"], 14);
    // A body with no content type is sniffed: JSON by its brace, else a form.
    let r = request(
        rig.addr(),
        "POST",
        &v2,
        &[],
        Some(("", "{\"strength\":{\"set\":7}}")),
    )
    .await;
    ok(&json_of(r));
    let r = request(
        rig.addr(),
        "POST",
        &v2,
        &[],
        Some(("text/plain", "strength.set=8")),
    )
    .await;
    ok(&json_of(r));
    assert_eq!(rig.get(&v2).await["strengthConfig"]["strength"], 8);
    // Clamped silently into 0..=min(cap, soft limit).
    ok(&rig.post_json(&v2, json!({"strength":{"add":500}})).await);
    assert_eq!(rig.get(&v2).await["strengthConfig"]["strength"], 40);
    ok(&rig.post_json(&v2, json!({"strength":{"set":-5}})).await);
    assert_eq!(rig.get(&v2).await["strengthConfig"]["strength"], 0);
    // `all` reaches our game; an empty body changes nothing and succeeds.
    let v = rig
        .post_form("/api/game/all/strength_config", "strength.set=6")
        .await;
    assert_eq!(v["successClientIds"], json!([id]));
    ok(&rig.post_json(&v2, json!({})).await);
    assert_eq!(
        rig.get("/api/v2/game/all/strength").await["strengthConfig"]["strength"],
        6
    );
    // Validation failures: the envelope, not upstream's bare 500.
    fails(
        &rig.post_json(&v2, json!({"strength":{"add":"1.5"}})).await,
        "ERR::INVALID_REQUEST",
    );
    fails(
        &rig.post_json(&v2, json!({"strength":7})).await,
        "ERR::INVALID_REQUEST",
    );
    fails(
        &rig.post_form(&v1, "strength.add=abc").await,
        "ERR::INVALID_REQUEST",
    );
    assert_eq!(rig.get(&v2).await["strengthConfig"]["strength"], 6);
}

#[tokio::test]
async fn the_app_is_kept_at_base_strength_through_the_gate_and_never_above_the_cap() {
    let rig = Rig::new(25).await;
    let app = rig.app([30, 30]).await;
    let v2 = format!("/api/v2/game/{}/strength", rig.id);
    ok(&rig
        .post_json(
            &v2,
            json!({"strength":{"set":12},"randomStrength":{"set":0}}),
        )
        .await);
    app.until("A at 12", |s| s.level[0] == 12).await;
    // The base is clamped to the cap (25, below the soft limit of 30), and so is the App.
    ok(&rig.post_json(&v2, json!({"strength":{"set":200}})).await);
    assert_eq!(rig.get(&v2).await["strengthConfig"]["strength"], 25);
    app.until("A at 25", |s| s.level[0] == 25).await;
    // A cap lowered later: the config reads as what is in force, and the App follows.
    rig.hub.set_caps(20, 20).unwrap();
    assert_eq!(rig.get(&v2).await["strengthConfig"]["strength"], 20);
    app.until("A down to 20", |s| s.level[0] == 20).await;
    rig.hub.set_caps(25, 25).unwrap();
    // A random range on top of a base at the cap still cannot pass it.
    ok(&rig
        .post_json(&v2, json!({"randomStrength":{"set":100}}))
        .await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Lowering is at once.
    ok(&rig
        .post_json(
            &v2,
            json!({"strength":{"set":3},"randomStrength":{"set":0}}),
        )
        .await);
    app.until("A back at 3", |s| s.level[0] == 3).await;
    let s = app.seen.lock().unwrap();
    assert!(s.max_sent[0] <= 25, "{:?}", s.max_sent);
    // B is off by default: the game never raised it.
    assert_eq!(s.max_sent[1], 0);
}

fn frames_in(msg: &str) -> Vec<String> {
    let list = msg.split_once(':').map_or("[]", |(_, l)| l);
    serde_json::from_str(list).unwrap()
}

#[tokio::test]
async fn pulses_are_selected_listed_and_played_on_channel_a() {
    let rig = Rig::new(40).await;
    let id = rig.id.to_string();
    // Lists: v1, v2 and the v1.4-only server list (DBD_QTE_go calls it).
    let mut full = Value::Null;
    for p in [
        format!("/api/game/{id}/pulse_list"),
        format!("/api/v2/game/{id}/pulse_list"),
        "/api/v2/pulse_list".into(),
        "/api/v2/game/all/pulse_list".into(),
    ] {
        let v = rig.get(&p).await;
        ok(&v);
        assert_eq!(
            v["pulseList"][0],
            json!({"id":"d6f83af0","name":"呼吸"}),
            "{v}"
        );
        assert_eq!(v["pulseList"][1]["id"], "7eae1e5f");
        full = rig.get(&format!("{p}?type=full")).await;
    }
    let tide: Vec<String> =
        serde_json::from_value(full["pulseList"][1]["pulseData"].clone()).unwrap();
    assert!(
        !tide.is_empty() && tide.iter().all(|f| f.len() == 16),
        "{tide:?}"
    );

    // Selection, readable while offline.
    let v1 = format!("/api/game/{id}/pulse_id");
    let v2 = format!("/api/v2/game/{id}/pulse");
    let v = rig.get(&v1).await;
    assert_eq!(
        (v["pulseId"].clone(), v["currentPulseId"].clone()),
        (json!("d6f83af0"), json!("d6f83af0"))
    );
    ok(&rig
        .post_form(&v1, "pulseId[]=7eae1e5f&pulseId[]=eea0e4ce")
        .await);
    assert_eq!(
        rig.get(&v2).await["pulseId"],
        json!(["7eae1e5f", "eea0e4ce"])
    );
    ok(&rig.post_form(&v1, "pulseId=d6f83af0").await);
    assert_eq!(rig.get(&v2).await["pulseId"], json!("d6f83af0"));
    fails(
        &rig.post_json(&v2, json!({"pulseId":""})).await,
        "ERR::INVALID_REQUEST",
    );
    fails(&rig.post_json(&v2, json!({})).await, "ERR::INVALID_REQUEST");
    fails(
        &rig.post_json(&v2, json!({"pulseId":[1]})).await,
        "ERR::INVALID_REQUEST",
    );
    // An id we never had: upstream says success and stores nothing.
    let other = Uuid::new_v4().to_string();
    let v = rig
        .post_json(
            &format!("/api/v2/game/{other}/pulse"),
            json!({"pulseId":"x"}),
        )
        .await;
    ok(&v);
    assert_eq!(v["successClientIds"], json!([other]));
    fails(
        &rig.get(&format!("/api/v2/game/{other}/pulse")).await,
        "ERR::GAME_NOT_FOUND",
    );

    // Played: the default pulse streams on A; switching sends clear-1, then the new one.
    let app = rig.app([100, 100]).await;
    app.until("pulses on A", |s| {
        s.messages.iter().any(|m| m.starts_with("pulse-A:"))
    })
    .await;
    let from = app.len();
    ok(&rig.post_json(&v2, json!({"pulseId":"7eae1e5f"})).await);
    app.until("the new pulse after a clear", |s| {
        let after = &s.messages[from..];
        let clear = after.iter().position(|m| m == "clear-1");
        clear.is_some_and(|c| after[c..].iter().any(|m| m.starts_with("pulse-A:")))
    })
    .await;
    let first = {
        let s = app.seen.lock().unwrap();
        let after = &s.messages[from..];
        let c = after.iter().position(|m| m == "clear-1").unwrap();
        after[c..]
            .iter()
            .find(|m| m.starts_with("pulse-A:"))
            .unwrap()
            .clone()
    };
    let sent = frames_in(&first);
    assert_eq!(
        sent[..],
        tide[..sent.len().min(tide.len())],
        "not 潮汐's frames"
    );
    // And it keeps coming without a gap (the player's lead): more chunks over a second.
    let n = app.seen.lock().unwrap().pulses(from);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        app.seen.lock().unwrap().pulses(from) >= n + 3,
        "the pulse stopped streaming"
    );
    assert!(
        app.seen
            .lock()
            .unwrap()
            .messages
            .iter()
            .all(|m| !m.starts_with("pulse-B:")),
        "B is off"
    );
}

#[tokio::test]
async fn fire_raises_for_its_time_within_the_limits_then_returns_to_base() {
    let rig = Rig::new(40).await;
    let id = rig.id.to_string();
    let v1 = format!("/api/game/{id}/fire");
    let v2 = format!("/api/v2/game/{id}/action/fire");
    fails(
        &rig.post_json(&v2, json!({"strength":10})).await,
        "ERR::GAME_NOT_FOUND",
    );
    let app = rig.app([100, 100]).await;
    ok(&rig
        .post_json(
            &format!("/api/v2/game/{id}/strength"),
            json!({"strength":{"set":5},"randomStrength":{"set":0}}),
        )
        .await);
    app.until("A at base 5", |s| s.level[0] == 5).await;

    // Form on v1 (the AutoHotkey SDK): +20 for 1.5 s.
    let v = rig.post_form(&v1, "strength=20&time=1500").await;
    ok(&v);
    assert_eq!(v["successClientIds"], json!([id]));
    assert_eq!(v["warnings"], json!([]));
    app.until("A at 25 during the fire", |s| s.level[0] == 25)
        .await;
    // The window's game panel sees it too.
    let status = rig.games.status();
    let fire = status[0].fire.expect("no fire in the status");
    assert_eq!(fire.0, 20);
    assert!(fire.1 <= 1500);
    app.until("A back at 5 after it", |s| s.level[0] == 5).await;

    // The boost is limited to fireStrengthLimit (30) and the total to the cap (40).
    let v = rig
        .post_json(
            &v2,
            json!({"strength":200,"time":400000,"override":true,"pulseId":""}),
        )
        .await;
    ok(&v);
    assert_eq!(v["warnings"][0]["code"], "WARN::INVALID_TIME");
    app.until("A at 35", |s| s.level[0] == 35).await;
    // `override` with a short time ends it.
    ok(&rig.post_form(&v2, "strength=0&time=1&override=true").await);
    app.until("A back at 5", |s| s.level[0] == 5).await;
    assert!(app.seen.lock().unwrap().max_sent[0] <= 35);

    fails(
        &rig.post_json(&v2, json!({"strength":201})).await,
        "ERR::INVALID_REQUEST",
    );
    fails(
        &rig.post_json(&v2, json!({"time":100})).await,
        "ERR::INVALID_REQUEST",
    );
    fails(
        &rig.post_form(&v1, "strength=5&time=0").await,
        "ERR::INVALID_REQUEST",
    );
    fails(
        &rig.post_form(&v1, "strength=5&override=maybe").await,
        "ERR::INVALID_REQUEST",
    );
    let v = rig
        .post_json("/api/game/all/fire", json!({"strength":1,"time":10}))
        .await;
    assert_eq!(v["successClientIds"], json!([id]));
}

#[tokio::test]
async fn all_addresses_only_apps_paired_with_our_terminal() {
    let rig = Rig::new(40).await;
    let (foreign_term, mut foreign_app) = common::pair(&rig.relay).await;
    // Nobody of ours is paired: `all` addresses nothing, successfully.
    let v = rig
        .post_json("/api/v2/game/all/strength", json!({"strength":{"set":9}}))
        .await;
    ok(&v);
    assert_eq!(v["successClientIds"], json!([]));
    // Another terminal's id is not a game here.
    let theirs = format!("/api/v2/game/{}/strength", foreign_term.id);
    fails(
        &rig.post_json(&theirs, json!({"strength":{"set":9}})).await,
        "ERR::GAME_NOT_FOUND",
    );
    let fire = rig
        .post_json(
            &format!("/api/v2/game/{}/action/fire", foreign_term.id),
            json!({"strength":9}),
        )
        .await;
    fails(&fire, "ERR::GAME_NOT_FOUND");

    let app = rig.app([100, 100]).await;
    let v = rig
        .post_json(
            "/api/v2/game/all/action/fire",
            json!({"strength":9,"time":500}),
        )
        .await;
    assert_eq!(v["successClientIds"], json!([rig.id.to_string()]));
    app.until("our App raised", |s| s.level[0] > 0).await;
    foreign_app.silent_for(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn all_can_be_switched_off_and_then_answers_broadcast_not_allowed() {
    let config = HttpConfig {
        allow_broadcast: false,
        ..HttpConfig::default()
    };
    let rig = Rig::with(40, config).await;
    let _app = rig.app([100, 100]).await;
    for p in [
        "/api/v2/game/all",
        "/api/game/all/strength_config",
        "/api/v2/game/all/pulse",
    ] {
        fails(&rig.get(p).await, "ERR::BROADCAST_NOT_ALLOWED");
    }
    let writes = [
        ("/api/v2/game/all/strength", json!({"strength":{"set":9}})),
        ("/api/v2/game/all/pulse", json!({"pulseId":"7eae1e5f"})),
        ("/api/v2/game/all/action/fire", json!({"strength":9})),
    ];
    for (p, body) in writes {
        fails(&rig.post_json(p, body).await, "ERR::BROADCAST_NOT_ALLOWED");
    }
    // The catalogue is not a game: still listed.
    ok(&rig.get("/api/v2/game/all/pulse_list").await);
    // Our own id still works.
    ok(&rig
        .post_json(
            &format!("/api/v2/game/{}/strength", rig.id),
            json!({"strength":{"set":9}}),
        )
        .await);
}

#[tokio::test]
async fn framework_answers_match_the_original_404_405_options_400_and_slashes() {
    let rig = Rig::new(40).await;
    let a = rig.addr();
    let r = request(a, "GET", "/api/nope", &[], None).await;
    assert_eq!((r.status, r.body.as_str()), (404, "Not Found"));
    let r = request(a, "POST", "/api/v2/game/all/gameplay/init", &[], None).await;
    assert_eq!(r.status, 404);
    let r = request(a, "DELETE", "/api/v2/game/all/strength", &[], None).await;
    assert_eq!((r.status, r.body.as_str()), (405, "Method Not Allowed"));
    assert!(
        r.header("allow").is_some_and(|v| v.contains("POST")),
        "{r:?}"
    );
    let r = request(a, "GET", "/api/game/all/fire", &[], None).await;
    assert_eq!(r.status, 405);
    let r = request(a, "OPTIONS", "/api/game/all/fire", &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.header("allow").is_some_and(|v| v.contains("POST")));
    assert!(r.header("access-control-allow-origin").is_none());
    let r = request(
        a,
        "POST",
        "/api/v2/game/all/strength",
        &[],
        Some(("application/json", "{oops")),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (400, "Bad Request"));
    let r = request(
        a,
        "POST",
        "/api/v2/game/all/strength",
        &[],
        Some(("application/json", "[1,2]")),
    )
    .await;
    assert_eq!(r.status, 400);
    // The Cheat Engine SDK's `//api` and a trailing slash reach the same handler.
    ok(&rig.get("//api/v2/game/").await);
    ok(&rig.get("/api//game").await);
    let v = rig.get("//api/v2/game/all/pulse_list/?type=full").await;
    assert!(v["pulseList"][0]["pulseData"].is_array(), "{v}");
    // Extras kept cheap for third-party web UIs.
    let v = rig.get("/api/server_info").await;
    assert_eq!(
        v["server"]["apiBaseHttpUrl"],
        format!("http://127.0.0.1:{}", a.port())
    );
    let v = rig.get("/api/client/connect").await;
    assert!(v["clientId"]
        .as_str()
        .is_some_and(|s| Uuid::parse_str(s).is_ok()));
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let rig = Rig::new(40).await;
    let big = format!("strength.set=1&pad={}", "x".repeat(gamehub::BODY_LIMIT + 1));
    let r = request(
        rig.addr(),
        "POST",
        "/api/game/all/strength_config",
        &[],
        Some(("application/x-www-form-urlencoded", &big)),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.status);
}

#[tokio::test]
async fn web_pages_and_rebinding_hosts_are_refused_native_clients_are_not() {
    let rig = Rig::new(40).await;
    let app = rig.app([100, 100]).await;
    let mut events = rig.games.subscribe();
    let a = rig.addr();
    let path = "/api/v2/game/all/strength";
    let form = Some(("application/x-www-form-urlencoded", "strength.set=20"));
    // A form POST from another site: a "simple request" that CORS would not stop.
    let r = request(a, "POST", path, &[("Origin", "http://evil.example")], form).await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("ERR::FORBIDDEN_ORIGIN"));
    assert!(r.header("access-control-allow-origin").is_none());
    let r = request(a, "POST", path, &[("Origin", "null")], form).await;
    assert_eq!(r.status, 403);
    // DNS rebinding: the page's own name in Host.
    let r = request(
        a,
        "POST",
        path,
        &[("Host", "rebind.evil.example:8920")],
        form,
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("ERR::FORBIDDEN_HOST"));
    match tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap()
    {
        GameHubEvent::ApiRefused { why, .. } => assert!(why.contains("evil.example"), "{why}"),
        other => panic!("{other:?}"),
    }
    // None of it changed anything.
    assert_eq!(rig.get(path).await["strengthConfig"]["strength"], 5);
    // Our own page's origin and the loopback names work; a native client sends no Origin.
    let own = format!("http://127.0.0.1:{}", a.port());
    json_of(request(a, "POST", path, &[("Origin", own.as_str())], form).await);
    json_of(request(a, "GET", path, &[("Host", "localhost")], None).await);
    json_of(
        request(
            a,
            "GET",
            path,
            &[("Host", &format!("[::1]:{}", a.port()))],
            None,
        )
        .await,
    );
    ok(&rig
        .post_form(path, "strength.set=7&randomStrength.set=0")
        .await);
    app.until("A at 7", |s| s.level[0] == 7).await;
}

#[tokio::test]
async fn exposure_beyond_loopback_needs_a_token() {
    // The check runs before anything listens beyond loopback, so a test can make it on a
    // loopback listener by asking for the rule it enforces.
    let relay = start_relay().await;
    let hub = SafetyHub::new(SafetyConfig {
        watchdog: None,
        ..SafetyConfig::default()
    })
    .unwrap();
    let games = GameHub::new(hub, None);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let empty = HttpConfig {
        token: Some(String::new()),
        ..HttpConfig::default()
    };
    assert!(matches!(
        gamehub::serve_http(listener, games.clone(), empty),
        Err(HttpError::EmptyToken)
    ));
    let e = HttpError::LanWithoutToken("0.0.0.0:8920".parse().unwrap()).to_string();
    assert!(e.contains("token"), "{e}");
    // With a token, loopback callers still need none (existing mods keep working).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = HttpConfig {
        token: Some("a-long-enough-token".into()),
        ..HttpConfig::default()
    };
    let server = gamehub::serve_http(listener, games, config).unwrap();
    json_of(request(server.local_addr(), "GET", "/api/game", &[], None).await);
    // The window's "new token": an empty one is refused and the old one stays.
    assert!(matches!(
        server.set_token(Some(String::new())),
        Err(HttpError::EmptyToken)
    ));
    server.set_token(Some("another-long-token".into())).unwrap();
    json_of(request(server.local_addr(), "GET", "/api/game", &[], None).await);
    server.shutdown().await;
    relay.shutdown().await;
}

#[tokio::test]
async fn every_write_is_reported_with_its_caller_and_games() {
    let rig = Rig::new(40).await;
    let _app = rig.app([100, 100]).await;
    let mut events = rig.games.subscribe();
    ok(&rig
        .post_form("/api/game/all/strength_config", "strength.set=8")
        .await);
    ok(&rig
        .post_json("/api/v2/game/all/pulse", json!({"pulseId":"7eae1e5f"}))
        .await);
    ok(&rig
        .post_form("/api/game/all/fire", "strength=5&time=100")
        .await);
    let mut details = vec![];
    for _ in 0..3 {
        match tokio::time::timeout(WAIT, events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            GameHubEvent::ApiWrite {
                peer,
                games,
                detail,
                request,
            } => {
                assert!(peer.ip().is_loopback());
                assert_eq!(games, vec![rig.id]);
                assert!(request.starts_with("POST /api/"), "{request}");
                details.push(detail);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(details[0].contains("5→8"), "{details:?}");
    assert!(details[1].contains("7eae1e5f"));
    assert!(details[2].contains("fire +5"));
}

/// The index just past the gate's stop (`0, 0, clear, clear`) sent at or after `from`.
fn after_stop(messages: &[String], from: usize) -> Option<usize> {
    let stop = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"];
    (from..messages.len().saturating_sub(3))
        .find(|&i| (0..4).all(|k| messages[i + k] == stop[k]))
        .map(|i| i + 4)
}

/// Nothing after the stop raises a channel or plays a pulse.
fn still_after(s: &Seen, from: usize) {
    for m in &s.messages[from..] {
        assert!(
            !m.starts_with("pulse-"),
            "a pulse after the stop: {:?}",
            &s.messages[from..]
        );
        if let Some(rest) = m.strip_prefix("strength-") {
            assert!(rest.ends_with("+0"), "a raise after the stop: {m}");
        }
    }
}

#[tokio::test]
async fn the_stop_refuses_writes_and_output_stays_off_after_rearming() {
    let rig = Rig::new(40).await;
    let app = rig.app([100, 100]).await;
    let v2 = format!("/api/v2/game/{}", rig.id);
    ok(&rig
        .post_json(
            &format!("{v2}/strength"),
            json!({"strength":{"set":10},"randomStrength":{"set":0}}),
        )
        .await);
    app.until("A at 10", |s| s.level[0] == 10).await;
    let mark = app.len();
    rig.hub.emergency_stop();
    assert!(!rig.games.output_on());
    for (path, body) in [
        ("strength", json!({"strength":{"set":30}})),
        ("action/fire", json!({"strength":30})),
        ("pulse", json!({"pulseId":"7eae1e5f"})),
    ] {
        fails(
            &rig.post_json(&format!("{v2}/{path}"), body).await,
            "ERR::EMERGENCY_STOP",
        );
    }
    assert_eq!(
        rig.get(&format!("{v2}/strength")).await["strengthConfig"]["strength"],
        10
    );
    // Re-arming restores nothing: writes are taken again, but output stays off.
    rig.hub.rearm();
    ok(&rig
        .post_json(
            &format!("{v2}/action/fire"),
            json!({"strength":30,"time":2000}),
        )
        .await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let s = app.seen.lock().unwrap();
        let from = after_stop(&s.messages, mark).expect("the stop never reached the App");
        still_after(&s, from);
    }
    assert_eq!(app.level(), [0, 0]);
    // Switched on again by the user (the window's button): the game resumes, fire and all.
    rig.games.set_output(true).unwrap();
    app.until("A at base + fire", |s| s.level[0] == 40).await;
}

#[tokio::test]
async fn without_a_start_button_a_games_first_request_starts_output_but_never_after_a_stop() {
    let config = HttpConfig {
        start_output_on_request: true,
        ..HttpConfig::default()
    };
    let rig = Rig::with(40, config).await;
    let app = rig.app([100, 100]).await;
    // Paired, but no game has asked for anything: the App is left alone.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!rig.games.output_on());
    assert_eq!(app.seen.lock().unwrap().max_sent, [0, 0]);
    assert_eq!(app.seen.lock().unwrap().pulses(0), 0);
    // A read is not a start either.
    rig.get("/api/v2/game/all").await;
    assert!(!rig.games.output_on());
    ok(&rig
        .post_form(
            "/api/game/all/strength_config",
            "strength.set=6&randomStrength.set=0",
        )
        .await);
    assert!(rig.games.output_on());
    app.until("A at 6", |s| s.level[0] == 6).await;
    // After a stop and a re-arm, game requests are taken but start nothing.
    let mark = app.len();
    rig.hub.emergency_stop();
    rig.hub.rearm();
    ok(&rig
        .post_form("/api/game/all/fire", "strength=20&time=2000")
        .await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!rig.games.output_on());
    let s = app.seen.lock().unwrap();
    still_after(&s, after_stop(&s.messages, mark).expect("no stop"));
}

#[tokio::test]
async fn the_openapi_document_lists_every_routed_path() {
    let rig = Rig::new(40).await;
    let r = request(rig.addr(), "GET", "/api/openapi.json", &[], None).await;
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let doc: Value = serde_json::from_str(&r.body).unwrap();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for p in PATHS {
        assert!(documented.contains(p), "{p} is routed but not documented");
    }
    for p in &documented {
        assert!(PATHS.contains(p), "{p} is documented but not routed");
        let concrete = p.replace("{id}", "all");
        let r = request(rig.addr(), "GET", &concrete, &[], None).await;
        assert_ne!(r.status, 404, "{p} documented, yet 404");
    }
}

/// Stock ids, and one that names nothing (played as the first).
const PULSES: [&str; 4] = ["d6f83af0", "7eae1e5f", "nope", "eea0e4ce"];

/// One API call of the sequence test.
#[derive(Debug, Clone)]
enum Op {
    Strength(i64, i64),
    AddStrength(i64),
    Fire(u8, u32, bool),
    Pulse(usize),
    Stop,
    Rearm,
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (-50i64..300, -50i64..300).prop_map(|(s, r)| Op::Strength(s, r)),
        (-100i64..100).prop_map(Op::AddStrength),
        (0u8..=200, 1u32..3000, any::<bool>()).prop_map(|(s, t, o)| Op::Fire(s, t, o)),
        (0usize..4).prop_map(Op::Pulse),
        Just(Op::Stop),
        Just(Op::Rearm),
        (0u64..250).prop_map(Op::Wait),
    ]
}

async fn run_sequence(cap: u8, soft: [u8; 2], b_times: Option<u8>, policy: bool, ops: Vec<Op>) {
    let rig = Rig::build(cap, HttpConfig::default(), policy).await;
    let app = rig.app(soft).await;
    if let Some(m) = b_times {
        // The window's game panel: B follows A times the multiplier.
        let mut config = GameConfig::new("d6f83af0");
        config.enable_b_channel = true;
        config.b_channel_strength_multiplier = m;
        assert!(rig.games.set_game_config(rig.id, config));
    }
    let game = format!("/api/v2/game/{}", rig.id);
    let form = |v1: bool| {
        if v1 {
            format!("/api/game/{}/strength_config", rig.id)
        } else {
            format!("{game}/strength")
        }
    };
    let mut stop_mark = None;
    for (i, op) in ops.into_iter().enumerate() {
        let v = match op {
            Op::Strength(s, r) => {
                rig.post_json(
                    &form(false),
                    json!({"strength":{"set":s},"randomStrength":{"set":r}}),
                )
                .await
            }
            Op::AddStrength(n) => {
                rig.post_form(&form(true), &format!("strength.add={n}"))
                    .await
            }
            Op::Fire(s, t, o) => {
                rig.post_form(
                    &format!("{game}/action/fire"),
                    &format!("strength={s}&time={t}&override={o}"),
                )
                .await
            }
            Op::Pulse(k) => {
                rig.post_json(&format!("{game}/pulse"), json!({ "pulseId": PULSES[k] }))
                    .await
            }
            Op::Stop => {
                let mark = app.len();
                rig.hub.emergency_stop();
                stop_mark.get_or_insert(mark);
                continue;
            }
            Op::Rearm => {
                rig.hub.rearm();
                continue;
            }
            Op::Wait(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                continue;
            }
        };
        assert!(
            v["status"] == 1 || v["code"] == "ERR::EMERGENCY_STOP",
            "op {i}: {v}"
        );
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let s = app.seen.lock().unwrap();
    for (ch, (sent, soft)) in s.max_sent.iter().zip(soft).enumerate() {
        assert!(
            *sent <= cap.min(soft),
            "channel {ch} was sent {sent} above min(cap {cap}, soft {soft})"
        );
    }
    if b_times.is_none() {
        assert_eq!(s.max_sent[1], 0, "B was raised while off");
    }
    if let Some(mark) = stop_mark {
        let from = after_stop(&s.messages, mark).expect("the stop never reached the App");
        still_after(&s, from);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, max_shrink_iters: 20, ..ProptestConfig::default() })]

    /// Whatever a game sends, in any order: the App is never sent more than the user's cap
    /// or its soft limit, and after an emergency stop nothing rises and no pulse plays
    /// (re-arming alone does not switch game output back on).
    #[test]
    fn no_sequence_of_api_calls_passes_the_cap_or_moves_anything_after_a_stop(
        cap in 5u8..60,
        soft_a in 5u8..80,
        soft_b in 5u8..80,
        b_times in proptest::option::of(1u8..4),
        policy in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..14),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run_sequence(cap, [soft_a, soft_b], b_times, policy, ops));
    }
}

#[test]
fn headless_serve_runs_the_api_and_names_a_taken_port_or_a_missing_token() {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_dglab-relay");
    // A port someone holds (Game-Hub itself, say): said plainly, exit 2.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let out = Command::new(bin)
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--local-terminal",
            "--http-port",
            &port,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("port {port} is already in use")) && err.contains("--http-port"),
        "{err}"
    );
    // LAN exposure without a token: refused before anything listens.
    let out = Command::new(bin)
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--local-terminal",
            "--http-host",
            "0.0.0.0",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--api-token"), "{err}");
    // The API without the local terminal it drives: refused too.
    let out = Command::new(bin)
        .args(["serve", "--http-port", "9000"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn headless_serve_answers_game_requests_for_its_local_terminal() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    // A free port, found by binding 0 on loopback and letting go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dglab-relay"))
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--local-terminal",
            "--http-port",
            &port.to_string(),
        ])
        .env("DGLAB_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut code = None;
    while let Ok(line) = rx.recv_timeout(WAIT) {
        if let Some(rest) = line.split("connect code ").nth(1) {
            code = Some(rest.trim_end_matches(')').to_owned());
            break;
        }
    }
    let code = code.expect("no connect code logged");
    let (id, base) = code.split_once('@').unwrap();
    assert_eq!(base, format!("http://127.0.0.1:{port}"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let v = json_of(request(addr, "GET", &format!("/api/v2/game/{id}"), &[], None).await);
    ok(&v);
    assert_eq!(v["gameConfig"]["pulseId"], "d6f83af0");
    let v = json_of(
        request(
            addr,
            "POST",
            &format!("/api/game/{id}/strength_config"),
            &[],
            Some(("application/x-www-form-urlencoded", "strength.set=3")),
        )
        .await,
    );
    fails(&v, "ERR::GAME_NOT_FOUND");
    let r = request(
        addr,
        "POST",
        "/api/game/all/fire",
        &[("Origin", "http://evil.example")],
        Some(("text/plain", "strength=10")),
    )
    .await;
    assert_eq!(r.status, 403);
    let mut logged = false;
    while let Ok(line) = rx.recv_timeout(WAIT) {
        if line.contains("game API: refused") && line.contains("evil.example") {
            logged = true;
            break;
        }
    }
    assert!(logged, "the refusal was not logged");
    let _ = child.kill();
    let _ = child.wait();
}
