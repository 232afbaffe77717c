//! `/ws`, Game-Hub's web-controller protocol (docs/gamehub-api.md §5.1), end to end: a relay
//! on 127.0.0.1, our guarded terminal as the game, a simulated App over a real socket, the
//! API on 127.0.0.1:0, and a WebSocket client speaking the protocol as Game-Hub's OBS
//! widget and the AstrBot fork do.

mod common;

use common::{start_relay, Client};
use dglab_core::gamehub::{self, GameHub, HttpConfig, HttpServer};
use dglab_core::relay::RelayHandle;
use dglab_core::safety::{GuardedTerminal, SafetyConfig, SafetyHub};
use dglab_core::Terminal;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(10);

/// The phone: applies absolute strengths up to its soft limits and reports them.
#[derive(Default)]
struct Seen {
    level: [u8; 2],
    max_sent: [u8; 2],
    messages: Vec<String>,
}

async fn pair_app(relay: &RelayHandle, terminal: Uuid) -> Arc<Mutex<Seen>> {
    let tid = terminal.to_string();
    let mut client = Client::connect(relay, &tid).await;
    let me = client.id.clone();
    client
        .send(json!({"type":"bind","clientId":tid,"targetId":me,"message":"DGLAB"}))
        .await;
    assert_eq!(client.recv().await["message"], "200");
    client.msg(&tid, &me, "strength-0+0+100+100").await;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Some(Ok(m)) = client.ws.next().await {
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).unwrap();
            let Some(msg) = v["message"].as_str().map(str::to_owned) else {
                continue;
            };
            let report = {
                let mut s = shared.lock().unwrap();
                s.messages.push(msg.clone());
                msg.strip_prefix("strength-").map(|rest| {
                    let p: Vec<u8> = rest.split('+').map(|x| x.parse().unwrap()).collect();
                    let i = usize::from(p[0] - 1);
                    s.max_sent[i] = s.max_sent[i].max(p[2]);
                    s.level[i] = p[2].min(100);
                    format!("strength-{}+{}+100+100", s.level[0], s.level[1])
                })
            };
            if let Some(r) = report {
                client.msg(&tid, &me, &r).await;
            }
        }
    });
    seen
}

async fn until(what: &str, seen: &Mutex<Seen>, f: impl Fn(&Seen) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f(&seen.lock().unwrap()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "App never saw {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Rig {
    _relay: RelayHandle,
    hub: SafetyHub,
    games: GameHub,
    server: HttpServer,
    terminal: GuardedTerminal,
    app: Arc<Mutex<Seen>>,
}

impl Rig {
    async fn new(cap: u8) -> Rig {
        let relay = start_relay().await;
        let hub = SafetyHub::new(SafetyConfig {
            cap_a: cap,
            cap_b: cap,
            max_rise_per_sec: 100,
            watchdog: None,
        })
        .unwrap();
        let (raw, events) = Terminal::local(&relay);
        let (terminal, _events) = hub.guard(raw, events);
        let games = GameHub::new(hub.clone(), None);
        games.add_terminal(terminal.clone());
        games.set_output(true).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = gamehub::serve_http(listener, games.clone(), HttpConfig::default()).unwrap();
        let app = pair_app(&relay, terminal.id()).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while terminal.last_report().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "no report");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Rig {
            _relay: relay,
            hub,
            games,
            server,
            terminal,
            app,
        }
    }

    async fn ws(&self) -> Ws {
        let url = format!("ws://{}/ws", self.server.local_addr());
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Ws { ws }
    }
}

struct Ws {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame in time")
                .expect("socket closed")
                .unwrap();
            if let Message::Text(t) = m {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    /// Frames until one satisfies `f` (returned last).
    async fn until(&mut self, f: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut got = vec![];
        loop {
            let v = self.recv().await;
            let done = f(&v);
            got.push(v);
            if done {
                return got;
            }
        }
    }

    async fn response(&mut self, rid: &str) -> (Vec<Value>, Value) {
        let mut got = self
            .until(|v| v["event"] == "response" && v["requestId"] == rid)
            .await;
        let last = got.pop().unwrap();
        (got, last)
    }
}

fn names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|v| v["event"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn bind_client_pushes_the_games_state_then_answers() {
    let rig = Rig::new(40).await;
    let id = rig.terminal.id().to_string();
    let mut ws = rig.ws().await;
    // No requestId: ignored (the first answer below is to the unknown id).
    ws.send(json!({"action": "bindClient", "clientId": id}))
        .await;
    ws.send(
        json!({"action": "bindClient", "requestId": "r0", "clientId": Uuid::new_v4().to_string()}),
    )
    .await;
    let first = ws.recv().await;
    assert_eq!(first["event"], "response", "{first}");
    assert_eq!(
        (
            first["requestId"].as_str(),
            first["data"]["status"].as_i64()
        ),
        (Some("r0"), Some(0))
    );
    assert!(first["data"]["message"].is_string());

    ws.send(json!({"action": "bindClient", "requestId": "r1", "clientId": id}))
        .await;
    let (pushed, answer) = ws.response("r1").await;
    assert_eq!(answer["data"]["status"], 1, "{answer}");
    assert_eq!(
        names(&pushed),
        [
            "gameConfigUpdated",
            "gameConfigUpdated",
            "strengthChanged",
            "strengthConfigUpdated",
            "clientConnected",
            "gameStarted"
        ]
    );
    assert_eq!(pushed[0]["data"]["type"], "main-game");
    assert_eq!(pushed[0]["data"]["config"]["pulseId"], "d6f83af0");
    assert_eq!(pushed[1]["data"]["type"], "custom-pulse");
    assert_eq!(pushed[2]["data"]["limit"], 100);
    assert_eq!(
        pushed[3]["data"],
        json!({"strength": 5, "randomStrength": 5})
    );
}

#[tokio::test]
async fn update_strength_config_moves_the_app_within_the_cap_and_is_pushed() {
    let rig = Rig::new(12).await;
    let id = rig.terminal.id().to_string();
    let mut ws = rig.ws().await;
    let mut events = rig.games.subscribe();
    ws.send(json!({"action": "bindClient", "requestId": 1, "clientId": id}))
        .await;
    ws.response_num(1).await;
    ws.send(json!({"action": "updateStrengthConfig", "requestId": 2, "config": {"strength": 50, "randomStrength": 0}}))
        .await;
    // Pushed: the config in force (clamped to the cap), then the App's level reaching it.
    ws.until(|v| {
        v["event"] == "strengthConfigUpdated"
            && v["data"] == json!({"strength": 12, "randomStrength": 0})
    })
    .await;
    ws.until(|v| v["event"] == "strengthChanged" && v["data"]["strength"] == 12)
        .await;
    until("A at 12", &rig.app, |s| s.level[0] == 12).await;
    assert!(rig.app.lock().unwrap().max_sent[0] <= 12);
    // Logged like an HTTP write.
    let ev = tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    let line = ev.log_line().1;
    assert!(
        line.contains("updateStrengthConfig") && line.contains("strength 12"),
        "{line}"
    );
    // Out of range: refused in words.
    ws.send(json!({"action": "updateStrengthConfig", "requestId": 3, "config": {"strength": 500, "randomStrength": 0}}))
        .await;
    let (_, answer) = ws.response_num(3).await;
    assert_eq!(answer["data"]["status"], 0);
}

impl Ws {
    async fn response_num(&mut self, rid: i64) -> (Vec<Value>, Value) {
        let mut got = self
            .until(|v| v["event"] == "response" && v["requestId"] == rid)
            .await;
        let last = got.pop().unwrap();
        (got, last)
    }
}

#[tokio::test]
async fn after_the_stop_updates_are_refused_and_nothing_moves() {
    let rig = Rig::new(40).await;
    let id = rig.terminal.id().to_string();
    let mut ws = rig.ws().await;
    ws.send(json!({"action": "bindClient", "requestId": "b", "clientId": id}))
        .await;
    ws.response("b").await;
    until("A at the base", &rig.app, |s| s.level[0] >= 5).await;
    rig.hub.emergency_stop();
    ws.until(|v| v["event"] == "gameStopped").await;
    until("A at 0", &rig.app, |s| s.level == [0, 0]).await;
    let mark = rig.app.lock().unwrap().messages.len();
    ws.send(json!({"action": "updateStrengthConfig", "requestId": "u", "config": {"strength": 30, "randomStrength": 0}}))
        .await;
    let (_, answer) = ws.response("u").await;
    assert_eq!(answer["data"]["status"], 0, "{answer}");
    assert!(answer["data"]["message"]
        .as_str()
        .unwrap()
        .contains("emergency stop"));
    ws.send(json!({"action": "startGame", "requestId": "s"}))
        .await;
    let (_, answer) = ws.response("s").await;
    assert_eq!(
        answer["data"]["status"], 0,
        "startGame after a stop: {answer}"
    );
    ws.send(json!({"action": "updateConfig", "requestId": "c", "type": "main-game", "config": {"enableBChannel": true}}))
        .await;
    let (_, answer) = ws.response("c").await;
    assert_eq!(answer["data"]["status"], 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = rig.app.lock().unwrap();
    let raised: Vec<&String> = s.messages[mark..]
        .iter()
        .filter(|m| m.starts_with("strength-") && !m.ends_with("+0"))
        .collect();
    assert!(raised.is_empty(), "{raised:?}");
    assert!(!rig.games.output_on());
}

#[tokio::test]
async fn update_config_main_game_is_merged_and_pushed() {
    let rig = Rig::new(20).await;
    let id = rig.terminal.id().to_string();
    let mut ws = rig.ws().await;
    ws.send(json!({"action": "bindClient", "requestId": "b", "clientId": id}))
        .await;
    ws.response("b").await;
    ws.send(json!({"action": "updateConfig", "requestId": "c", "type": "main-game",
        "config": {"enableBChannel": true, "bChannelStrengthMultiplier": 1, "pulseMode": "sequence", "pulseChangeInterval": 30}}))
        .await;
    let (pushed, answer) = ws.response("c").await;
    assert_eq!(answer["data"]["status"], 1, "{answer}");
    let cfg = pushed
        .iter()
        .find(|v| v["event"] == "gameConfigUpdated")
        .expect("gameConfigUpdated pushed");
    assert_eq!(cfg["data"]["config"]["enableBChannel"], true);
    assert_eq!(cfg["data"]["config"]["pulseMode"], "sequence");
    // B now follows A, through the gate.
    until("B following A", &rig.app, |s| s.level[1] > 0).await;
    assert!(rig.app.lock().unwrap().max_sent[1] <= 20);
    // A wrong field refuses the whole update.
    ws.send(json!({"action": "updateConfig", "requestId": "d", "type": "main-game", "config": {"pulseMode": "loud"}}))
        .await;
    let (_, answer) = ws.response("d").await;
    assert_eq!(answer["data"]["status"], 0);
    ws.send(json!({"action": "kickClient", "requestId": "k"}))
        .await;
    let (_, answer) = ws.response("k").await;
    assert_eq!(answer["data"]["status"], 0, "kickClient is not ours to do");
}

/// The raw handshake with the given Origin: the HTTP status line's code.
async fn handshake(addr: std::net::SocketAddr, origin: Option<&str>) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if let Some(o) = origin {
        req.push_str(&format!("Origin: {o}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0; 1024];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    if text.contains(" 101 ") {
        assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
    }
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_door_holds_for_the_socket_as_for_http() {
    let rig = Rig::new(40).await;
    let addr = rig.server.local_addr();
    assert_eq!(handshake(addr, Some("http://evil.example")).await, 403);
    assert_eq!(handshake(addr, Some(&format!("http://{addr}"))).await, 101);
    assert_eq!(
        handshake(addr, None).await,
        101,
        "native clients send no Origin"
    );
}

#[tokio::test]
async fn shutting_the_server_down_closes_its_sockets() {
    let rig = Rig::new(40).await;
    let mut ws = rig.ws().await;
    let id = rig.terminal.id().to_string();
    ws.send(json!({"action": "bindClient", "requestId": "b", "clientId": id}))
        .await;
    ws.response("b").await;
    let Rig { server, .. } = rig;
    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown hangs");
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match ws.ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the socket stayed open");
    assert!(closed);
}

/// One raw HTTP/1.1 request: (status, lowercase head, body).
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    origin: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(o) = origin {
        req.push_str(&format!("Origin: {o}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = vec![];
    tokio::time::timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn the_remote_and_overlay_pages_are_ours_and_only_our_pages_may_use_them() {
    let rig = Rig::new(12).await;
    let addr = rig.server.local_addr();
    let own = format!("http://{addr}");
    for page in ["/remote", "/overlay", "/viewer.html", "/web/remote.js"] {
        let (status, head, body) = http(addr, "GET", page, None, "").await;
        assert_eq!(status, 200, "{page}");
        assert!(
            head.contains("content-security-policy: default-src 'self'"),
            "{page}: {head}"
        );
        assert!(!body.is_empty());
    }
    let id = rig.terminal.id();
    // The status the overlay reads: live levels, the caps, no stop.
    let (_, _, body) = http(
        addr,
        "GET",
        &format!("/api/x/game/{id}/status"),
        Some(&own),
        "",
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["status"].as_i64(), v["game"]["cap"]["a"].as_i64()),
        (Some(1), Some(12)),
        "{v}"
    );
    assert_eq!(v["game"]["stopped"], false);
    // B within the cap, from our own page.
    let (_, _, body) = http(
        addr,
        "POST",
        &format!("/api/x/game/{id}/channel"),
        Some(&own),
        r#"{"channel":"b","strength":90}"#,
    )
    .await;
    assert!(body.contains("\"status\":1"), "{body}");
    until("B at the cap", &rig.app, |s| s.level[1] == 12).await;
    assert!(rig.app.lock().unwrap().max_sent[1] <= 12);
    // Another site's page may neither set nor stop.
    let (status, _, _) = http(addr, "POST", "/api/x/stop", Some("http://evil.example"), "").await;
    assert_eq!(status, 403);
    assert!(!rig.hub.is_latched());
    // Our page's STOP is the real emergency stop: latched, App at 0, the next set refused.
    let (_, _, body) = http(addr, "POST", "/api/x/stop", Some(&own), "").await;
    assert!(body.contains("\"status\":1"), "{body}");
    assert!(rig.hub.is_latched());
    until("the App at 0", &rig.app, |s| s.level == [0, 0]).await;
    let (_, _, body) = http(
        addr,
        "POST",
        &format!("/api/x/game/{id}/channel"),
        Some(&own),
        r#"{"channel":"a","strength":5}"#,
    )
    .await;
    assert!(body.contains("ERR::EMERGENCY_STOP"), "{body}");
    let (_, _, body) = http(addr, "GET", &format!("/api/x/game/{id}/status"), None, "").await;
    assert!(body.contains("\"stopped\":true"), "{body}");
}
