//! MCP on the game API's server, end to end: a relay on 127.0.0.1, our guarded local
//! terminal as the game, the API on 127.0.0.1:0, and a simulated App over a real socket
//! that applies each absolute strength up to its soft limit and reports it.
//!
//! The JSON-RPC edge cases and both transports are driven with raw HTTP/1.1 here; the
//! official MCP Python SDK (`tests/interop/mcp_client.py`, PyPI `mcp` pinned in
//! tests/interop/requirements.txt, installed by scripts/python-env.sh) drives both
//! transports as a real client. A missing venv FAILS that test; `DGLAB_SKIP_INTEROP=1`
//! skips it on purpose.

mod common;

use common::{start_relay, Client};
use dglab_core::gamehub::{self, GameHub, GameHubEvent, HttpConfig, HttpServer};
use dglab_core::relay::RelayHandle;
use dglab_core::safety::{GuardedTerminal, SafetyConfig, SafetyHub};
use dglab_core::Terminal;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
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
    messages: Vec<String>,
    level: [u8; 2],
    limit: [u8; 2],
    /// The highest absolute strength it was ever sent, per channel.
    max_sent: [u8; 2],
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

    fn len(&self) -> usize {
        self.seen.lock().unwrap().messages.len()
    }

    async fn until(&self, what: &str, f: impl Fn(&Seen) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if f(&self.seen.lock().unwrap()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "App never saw {what}: {:?}",
                self.seen.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Nothing from `from` on raises a channel or plays a pulse, past the stop's own
    /// `0, 0, clear, clear`.
    fn still_since(&self, from: usize) {
        let s = self.seen.lock().unwrap();
        let stop = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"];
        // The last `0, 0, clear, clear`: re-arming and switching output on send the same
        // four frames (every start is at 0), so the first one after `from` may not be the stop.
        let after = (from..s.messages.len().saturating_sub(3))
            .rev()
            .find(|&i| (0..4).all(|k| s.messages[i + k] == stop[k]))
            .map(|i| i + 4)
            .unwrap_or_else(|| panic!("the stop never reached the App: {:?}", &s.messages[from..]));
        for m in &s.messages[after..] {
            assert!(!m.starts_with("pulse-"), "a pulse after the stop");
            if let Some(rest) = m.strip_prefix("strength-") {
                assert!(rest.ends_with("+0"), "a raise after the stop: {m}");
            }
        }
        assert_eq!(s.level, [0, 0]);
    }
}

/// A relay, the gate with caps, our terminal as a game, and the API with MCP. Output
/// starts at the first write, as in the headless relay.
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = HttpConfig {
            start_output_on_request: true,
            ..HttpConfig::default()
        };
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

    async fn app(&self, limit: [u8; 2]) -> App {
        let app = App::pair(&self.relay, self.id, limit).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.terminal.last_report().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "no report");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        app
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `initialize` on /mcp: the session id.
    async fn session(&self) -> String {
        let r = post(self.addr(), "/mcp", &[], &init("2025-06-18").to_string()).await;
        assert_eq!(r.status, 200, "{r:?}");
        r.header("mcp-session-id")
            .expect("no session id")
            .to_owned()
    }

    /// One request on a session, its JSON-RPC answer.
    async fn rpc(&self, sid: &str, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc":"2.0","id":7,"method":method,"params":params});
        let r = post(
            self.addr(),
            "/mcp",
            &[("Mcp-Session-Id", sid)],
            &body.to_string(),
        )
        .await;
        assert_eq!(r.status, 200, "{r:?}");
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["id"], 7, "{v}");
        v
    }

    async fn tool(&self, sid: &str, name: &str, args: Value) -> Value {
        self.rpc(sid, "tools/call", json!({"name": name, "arguments": args}))
            .await
    }
}

fn init(version: &str) -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}})
}

/// A tool result's JSON text.
fn text(v: &Value) -> Value {
    assert_eq!(v["result"]["isError"], false, "{v}");
    serde_json::from_str(v["result"]["content"][0]["text"].as_str().unwrap()).unwrap()
}

fn code(v: &Value) -> i64 {
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error: {v}"))
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

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"))
    }
}

fn head(
    method: &str,
    path: &str,
    addr: SocketAddr,
    headers: &[(&str, &str)],
    len: usize,
) -> String {
    let mut h = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        h.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    h
}

/// One HTTP/1.1 request, read to the end. Chunked bodies are de-chunked.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head(method, path, addr, headers, body.len()).as_bytes())
        .await
        .unwrap();
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
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A JSON POST accepting JSON only (so the answer is JSON).
async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut h = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ];
    h.extend_from_slice(headers);
    request(addr, "POST", path, &h, body).await
}

#[tokio::test]
async fn json_rpc_edge_cases_answer_with_the_standard_codes() {
    let rig = Rig::new(40).await;
    let a = rig.addr();
    // Not JSON: -32700, HTTP 400, id null.
    let r = post(a, "/mcp", &[], "{not json").await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!((code(&v), &v["id"]), (-32700, &Value::Null), "{v}");
    // No session: 400; a session we never gave: 404 (the client must initialize again).
    let ping = json!({"jsonrpc":"2.0","id":2,"method":"ping"}).to_string();
    assert_eq!(post(a, "/mcp", &[], &ping).await.status, 400);
    let r = post(a, "/mcp", &[("Mcp-Session-Id", "nope")], &ping).await;
    assert_eq!(r.status, 404);
    assert_eq!(code(&r.json()), -32005);
    let sid = rig.session().await;
    // Known: ping answers {}.
    assert_eq!(rig.rpc(&sid, "ping", json!({})).await["result"], json!({}));
    // Unknown method -32601, unknown tool -32602, bad arguments -32602.
    assert_eq!(code(&rig.rpc(&sid, "no/such", json!({})).await), -32601);
    assert_eq!(
        code(&rig.tool(&sid, "launch_rocket", json!({})).await),
        -32602
    );
    assert_eq!(
        code(
            &rig.tool(&sid, "set_strength", json!({"strength": "lots"}))
                .await
        ),
        -32602
    );
    assert_eq!(
        code(
            &rig.tool(&sid, "set_strength", json!({"strength": 201}))
                .await
        ),
        -32602
    );
    // Not JSON-RPC 2.0: -32600 with the id it had.
    let r = post(
        a,
        "/mcp",
        &[("Mcp-Session-Id", &sid)],
        r#"{"id":9,"method":"ping"}"#,
    )
    .await;
    let v = r.json();
    assert_eq!((code(&v), &v["id"]), (-32600, &json!(9)), "{v}");
    // A notification alone: 202, no body.
    let r = post(
        a,
        "/mcp",
        &[("Mcp-Session-Id", &sid)],
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (202, ""));
    // A batch: one answer per request, none for the notification.
    let r = post(
        a,
        "/mcp",
        &[("Mcp-Session-Id", &sid)],
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]"#,
    )
    .await;
    let v = r.json();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    assert!(v[1]["result"]["tools"]
        .as_array()
        .is_some_and(|t| t.len() >= 7));
    // An unknown protocol version header: 400.
    let r = post(
        a,
        "/mcp",
        &[
            ("Mcp-Session-Id", &sid),
            ("MCP-Protocol-Version", "1999-01-01"),
        ],
        &ping,
    )
    .await;
    assert_eq!(r.status, 400);
    // GET opens no stream (we send nothing unasked); DELETE ends the session.
    let r = request(a, "GET", "/mcp", &[("Accept", "text/event-stream")], "").await;
    assert_eq!(r.status, 405);
    let r = request(a, "DELETE", "/mcp", &[("Mcp-Session-Id", &sid)], "").await;
    assert_eq!(r.status, 204);
    let r = post(a, "/mcp", &[("Mcp-Session-Id", &sid)], &ping).await;
    assert_eq!(r.status, 404, "a deleted session still answers");
}

#[tokio::test]
async fn initialize_negotiates_the_version_and_answers_as_events_when_asked() {
    let rig = Rig::new(40).await;
    let a = rig.addr();
    for (asked, got) in [
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2024-11-05"),
        ("2099-01-01", "2025-06-18"),
    ] {
        let v = post(a, "/mcp", &[], &init(asked).to_string()).await.json();
        assert_eq!(v["result"]["protocolVersion"], got, "{v}");
        assert!(v["result"]["capabilities"]["tools"].is_object());
        assert_eq!(v["result"]["serverInfo"]["name"], "dglab-hub");
    }
    // A client that takes event streams gets the answer as one `message` event.
    let r = request(
        a,
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        &init("2025-03-26").to_string(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream")));
    let data = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no data line: {r:?}"));
    let v: Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["result"]["protocolVersion"], "2025-03-26");
    assert!(r.body.contains("event: message"), "{r:?}");
}

#[tokio::test]
async fn web_pages_and_rebinding_hosts_cannot_reach_mcp() {
    let rig = Rig::new(40).await;
    let a = rig.addr();
    let body = init("2025-06-18").to_string();
    for (k, v) in [
        ("Origin", "http://evil.example"),
        ("Host", "rebind.example:8920"),
    ] {
        let r = post(a, "/mcp", &[(k, v)], &body).await;
        assert_eq!(r.status, 403, "{k}: {v}: {r:?}");
        let r = request(a, "GET", "/api/mcp", &[(k, v)], "").await;
        assert_eq!(r.status, 403, "{k}: {v}: {r:?}");
        let r = post(a, "/api/mcp?session_id=x", &[(k, v)], &body).await;
        assert_eq!(r.status, 403, "{k}: {v}: {r:?}");
    }
    // Our own page's origin is let through.
    let origin = format!("http://127.0.0.1:{}", a.port());
    assert_eq!(
        post(a, "/mcp", &[("Origin", &origin)], &body).await.status,
        200
    );
}

#[tokio::test]
async fn tools_hold_the_cap_and_stop_latches_the_hub() {
    let cap = 20;
    let rig = Rig::new(cap).await;
    let sid = rig.session().await;
    // No App yet: a write has nothing to address.
    assert_eq!(
        code(
            &rig.tool(&sid, "set_strength", json!({"strength": 10}))
                .await
        ),
        -32002
    );
    let st = text(&rig.tool(&sid, "status", json!({})).await);
    assert_eq!(st["games"][0]["appPaired"], false, "{st}");
    let app = rig.app([100, 100]).await;
    let mut events = rig.games.subscribe();
    let v = text(
        &rig.tool(&sid, "set_strength", json!({"strength": 150}))
            .await,
    );
    assert_eq!(v["games"][0]["baseStrength"], cap, "{v}");
    app.until("A at the cap", |s| s.level[0] == cap).await;
    // Reported as a write, with the caller and the game.
    // Output switches on at this first write (an `Output` event), then the write itself.
    let ev = loop {
        match tokio::time::timeout(WAIT, events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            GameHubEvent::Output { .. } => continue,
            ev => break ev,
        }
    };
    match ev {
        GameHubEvent::ApiWrite {
            peer,
            request,
            games,
            detail,
        } => {
            assert!(peer.ip().is_loopback());
            assert_eq!(request, "MCP tools/call set_strength");
            assert_eq!(games, vec![rig.id]);
            assert!(detail.contains(&format!("5→{cap}")), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    text(
        &rig.tool(&sid, "fire", json!({"strength": 200, "duration": 500}))
            .await,
    );
    text(
        &rig.tool(&sid, "increase_strength", json!({"amount": 50}))
            .await,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.seen.lock().unwrap().max_sent[0] <= cap);
    // The stop: the App goes to 0, and no later call moves it, even after waiting.
    let mark = app.len();
    text(&rig.tool(&sid, "stop", json!({})).await);
    assert!(rig.hub.is_latched());
    for (name, args) in [
        ("set_strength", json!({"strength": 5})),
        ("increase_strength", json!({})),
        ("fire", json!({"strength": 10})),
        ("play_pulse", json!({"pulse": "d6f83af0"})),
    ] {
        assert_eq!(code(&rig.tool(&sid, name, args).await), -32005, "{name}");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.still_since(mark);
    // Re-arming alone moves nothing either (output stays off until the user says).
    rig.hub.rearm();
    text(&rig.tool(&sid, "set_strength", json!({"strength": 8})).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.still_since(mark);
    assert!(app.seen.lock().unwrap().max_sent.iter().all(|&m| m <= cap));
}

#[tokio::test]
async fn game_hubs_legacy_sse_transport_answers_on_its_stream() {
    let rig = Rig::new(40).await;
    let a = rig.addr();
    // A stream for our game: the first event names the endpoint.
    let mut s = TcpStream::connect(a).await.unwrap();
    let path = format!("/api/mcp/{}", rig.id);
    s.write_all(head("GET", &path, a, &[("Accept", "text/event-stream")], 0).as_bytes())
        .await
        .unwrap();
    let mut seen = String::new();
    let endpoint = read_until(&mut s, &mut seen, |t| {
        t.split("event: endpoint\ndata: ")
            .nth(1)
            .and_then(|r| r.split_once('\n'))
            .map(|(e, _)| e.to_owned())
    })
    .await;
    assert!(endpoint.starts_with("/api/mcp?session_id="), "{endpoint}");
    // POSTs answer 202; the answers arrive on the stream as `message` events.
    let r = post(a, &endpoint, &[], &init("2024-11-05").to_string()).await;
    assert_eq!((r.status, r.body.as_str()), (202, "Accepted"));
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
        "params":{"name":"disconnect_game","arguments":{}}});
    assert_eq!(post(a, &endpoint, &[], &call.to_string()).await.status, 202);
    let call = json!({"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"game://strength"}});
    assert_eq!(post(a, &endpoint, &[], &call.to_string()).await.status, 202);
    let mut messages = vec![];
    while messages.len() < 3 {
        let v = read_until(&mut s, &mut seen, |t| {
            let (_, rest) = t.split_once("event: message\ndata: ")?;
            let (data, _) = rest.split_once('\n')?;
            Some(data.to_owned())
        })
        .await;
        // Consume what was read so the next search starts after it.
        let cut = seen.find("event: message\ndata: ").unwrap() + 1;
        seen.drain(..cut);
        messages.push(serde_json::from_str::<Value>(&v).unwrap());
    }
    assert_eq!(messages[0]["result"]["protocolVersion"], "2024-11-05");
    // The URL fixed the game: Game-Hub's -32005.
    assert_eq!(messages[1]["error"]["code"], -32005, "{:?}", messages[1]);
    let body: Value = serde_json::from_str(
        messages[2]["result"]["contents"][0]["text"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["gameId"], rig.id.to_string());
    assert_eq!(body["isConnected"], false);
    // Bad JSON, a session we never gave, no session: refused at once.
    assert_eq!(post(a, &endpoint, &[], "{oops").await.status, 400);
    assert_eq!(
        post(a, "/api/mcp?session_id=nope", &[], "{}").await.status,
        404
    );
    assert_eq!(post(a, "/api/mcp", &[], "{}").await.status, 400);
    // The session ends with its stream.
    drop(s);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = post(a, &endpoint, &[], &call.to_string()).await;
        if r.status == 404 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session outlived its stream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn open_legacy_streams_are_bounded() {
    let rig = Rig::new(40).await;
    let a = rig.addr();
    let mut open = vec![];
    loop {
        let mut s = TcpStream::connect(a).await.unwrap();
        s.write_all(head("GET", "/api/mcp", a, &[], 0).as_bytes())
            .await
            .unwrap();
        let mut seen = String::new();
        let status = read_until(&mut s, &mut seen, |t| {
            t.split_once("\r\n")
                .and_then(|(l, _)| l.split(' ').nth(1))
                .map(str::to_owned)
        })
        .await;
        if status != "200" {
            assert_eq!(status, "503");
            break;
        }
        open.push(s);
        assert!(open.len() <= 64, "no bound on open streams");
    }
    assert!(open.len() >= 4, "only {} streams", open.len());
    // One closes: room for one more.
    open.pop();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r_ok = {
            let mut s = TcpStream::connect(a).await.unwrap();
            s.write_all(head("GET", "/api/mcp", a, &[], 0).as_bytes())
                .await
                .unwrap();
            let mut seen = String::new();
            let st = read_until(&mut s, &mut seen, |t| {
                t.split_once("\r\n")
                    .and_then(|(l, _)| l.split(' ').nth(1))
                    .map(str::to_owned)
            })
            .await;
            if st == "200" {
                open.push(s);
            }
            st == "200"
        };
        if r_ok {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed stream kept its place"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads from `s` into `seen` until `f` finds what it looks for.
async fn read_until<T>(s: &mut TcpStream, seen: &mut String, f: impl Fn(&str) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut buf = [0u8; 4096];
    loop {
        if let Some(t) = f(seen) {
            return t;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let n = tokio::time::timeout(left, s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("nothing more came: {seen:?}"))
            .unwrap();
        assert!(n > 0, "the stream closed: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

// ---- the official MCP SDK as a real client ----------------------------------------------

fn venv_python() -> Option<std::path::PathBuf> {
    if std::env::var("DGLAB_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("DGLAB_SKIP_INTEROP=1: skipping the MCP SDK interop test");
        return None;
    }
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-env.sh to install the pinned MCP SDK \
         (or set DGLAB_SKIP_INTEROP=1 to skip this test on purpose)",
        python.display()
    );
    Some(python)
}

/// Runs the script for one transport; its PASS lines.
async fn run_client(python: &Path, transport: &str, url: &str, game: Uuid, cap: u8) -> usize {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mcp_client.py");
    let mut child = Command::new(python)
        .arg(&script)
        .args([transport, url, &game.to_string(), &cap.to_string()])
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Polled, so this runtime keeps serving the script meanwhile.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the MCP client did not finish");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!(
        "{stdout}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        status.success() && failed.is_empty(),
        "MCP SDK over {transport} failed ({status}): {failed:#?}"
    );
    assert!(stdout.contains(&format!("STOPPED {transport}")), "{stdout}");
    stdout.lines().filter(|l| l.starts_with("PASS ")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_mcp_sdk_drives_a_simulated_app_within_the_caps_on_both_transports() {
    let Some(python) = venv_python() else { return };
    let cap = 20;
    let rig = Rig::new(cap).await;
    let app = rig.app([100, 100]).await;
    let base = format!("http://127.0.0.1:{}", rig.addr().port());

    let mark = app.len();
    let passed = run_client(&python, "streamable", &format!("{base}/mcp"), rig.id, cap).await;
    assert!(passed >= 20, "only {passed} checks ran");
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.still_since(mark);
    assert!(app.seen.lock().unwrap().max_sent.iter().all(|&m| m <= cap));

    // The user re-arms and switches game output on again; the legacy transport then.
    rig.hub.rearm();
    rig.games.set_output(true).unwrap();
    let mark = app.len();
    let url = format!("{base}/api/mcp/{}", rig.id);
    let passed = run_client(&python, "sse", &url, rig.id, cap).await;
    assert!(passed >= 21, "only {passed} checks ran");
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.still_since(mark);
    let s = app.seen.lock().unwrap();
    assert!(s.max_sent.iter().all(|&m| m <= cap), "{:?}", s.max_sent);
    assert!(s.max_sent[0] == cap, "the App never got to the cap");
}
