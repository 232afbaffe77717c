//! The V4 relay (DG-LAB App 4.x) over real sockets on 127.0.0.1: one test per row of
//! the relay checklist in docs/v4-protocol.md §7, then the five exchanges of §11 with a
//! simulated 4.x App (tests/support/sim_app_v4.rs) and a controller that speaks raw JSON.

#[path = "support/sim_app_v4.rs"]
mod sim_app_v4;

use dglab_core::relay::v4::{
    self, V4Config, V4Event, V4Guard, V4Handle, V4Id, V4Incoming, V4Role, V4SendError, V4Verdict,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sim_app_v4::{Device, Options, SimApp};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Hang guard for every wait.
const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched.
const QUIET: Duration = Duration::from_millis(200);
const SLOT: &str = "A1B2C3D4E5F6";

/// A V4 relay with every timer off, so a test sees only what it causes.
fn quiet() -> V4Config {
    V4Config {
        heartbeat_interval: None,
        ping_interval: None,
        idle_timeout: None,
        ..V4Config::default()
    }
}

async fn start(config: V4Config) -> V4Handle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    v4::start(listener, config).unwrap()
}

fn base(relay: &V4Handle) -> String {
    format!("ws://{}/v4", relay.local_addr())
}

/// A raw WebSocket peer that speaks JSON: a controller, or an App without the simulator.
struct Peer {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    id: String,
}

impl Peer {
    /// Connects to `url` and reads `hello`.
    async fn connect(url: &str) -> Peer {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut p = Peer {
            ws,
            id: String::new(),
        };
        let hello = p.recv().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        assert_eq!(hello.as_object().unwrap().len(), 2, "{hello}");
        p.id = hello["clientId"].as_str().unwrap().to_owned();
        p
    }

    async fn controller(relay: &V4Handle) -> Peer {
        Peer::connect(&base(relay)).await
    }

    async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    /// Sends to one App, as a controller.
    async fn to(&mut self, app: &str, data: Value) {
        self.send(json!({"type":"message","clientId":app,"data":data}))
            .await;
    }

    /// The next text frame as JSON (pings skipped).
    async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            match m {
                Message::Text(t) => return serde_json::from_str(&t).expect("non-JSON text"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next frame that is not a heartbeat.
    async fn recv_no_hb(&mut self) -> Value {
        loop {
            let v = self.recv().await;
            if v != json!({"type":"heartbeat"}) {
                return v;
            }
        }
    }

    async fn silent_for(&mut self, d: Duration) {
        match tokio::time::timeout(d, self.ws.next()).await {
            Err(_) | Ok(Some(Ok(Message::Ping(_)))) => {}
            Ok(other) => panic!("expected silence, got {other:?}"),
        }
    }

    /// Waits for the relay to end the socket: its close code and reason, or `None`
    /// without a close frame. Text frames before it are returned too.
    async fn closed(&mut self) -> (Vec<Value>, Option<(u16, String)>) {
        let mut before = vec![];
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("not closed in time")
            {
                Some(Ok(Message::Close(f))) => {
                    // Read on, as a client does, so tungstenite answers the close and the
                    // relay ends the connection.
                    let end = tokio::time::timeout(WAIT, async {
                        while let Some(Ok(_)) = self.ws.next().await {}
                    });
                    end.await
                        .expect("the relay kept the socket open after its close");
                    return (before, f.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                Some(Ok(Message::Text(t))) => before.push(serde_json::from_str(&t).unwrap()),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return (before, None),
            }
        }
    }
}

/// A controller and a raw App attached to it, the attach notices consumed.
async fn attached(relay: &V4Handle) -> (Peer, Peer) {
    let mut c = Peer::controller(relay).await;
    let mut a = Peer::connect(&format!("{}?tid={}", base(relay), c.id)).await;
    assert_eq!(
        a.recv().await,
        json!({"type":"controller_attached","clientId":c.id})
    );
    assert_eq!(
        c.recv().await,
        json!({"type":"client_attached","clientId":a.id})
    );
    (c, a)
}

/// The status line a plain HTTP request to `path` gets.
async fn http_status(relay: &V4Handle, request: &str) -> String {
    let mut s = TcpStream::connect(relay.local_addr()).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![];
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    text.lines().next().unwrap_or_default().to_owned()
}

fn upgrade_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

async fn next_event(rx: &mut tokio::sync::broadcast::Receiver<V4Event>) -> V4Event {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no event in time")
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// §7 row 1: accept WebSocket at /v4 and /v4/ (and at / when tid/targetId is present).
// Role by query.

#[tokio::test]
async fn row1_upgrades_at_root_v4_and_v4_slash_and_the_query_decides_the_role() {
    let relay = start(quiet()).await;
    let addr = relay.local_addr();
    let mut keep = vec![];
    for path in ["/", "/v4", "/v4/"] {
        let mut c = Peer::connect(&format!("ws://{addr}{path}")).await;
        for app_path in [
            format!("/v4?tid={}", c.id),
            format!("/v4/?tid={}", c.id),
            format!("/?tid={}", c.id),
            format!("/?targetId={}", c.id),
            // tid wins over targetId.
            format!("/v4?targetId=ffffffff&tid={}", c.id),
        ] {
            let mut a = Peer::connect(&format!("ws://{addr}{app_path}")).await;
            assert_eq!(
                a.recv().await,
                json!({"type":"controller_attached","clientId":c.id}),
                "{path} then {app_path}"
            );
            assert_eq!(
                c.recv().await,
                json!({"type":"client_attached","clientId":a.id})
            );
            keep.push(a);
        }
        keep.push(c);
    }
    // targetId loses to a tid naming no controller: the App is refused.
    let c = Peer::controller(&relay).await;
    let mut a = Peer::connect(&format!("ws://{addr}/v4?targetId={}&tid=ffffffff", c.id)).await;
    assert_eq!(a.recv().await["code"], "controller_not_found");
    let roles: Vec<V4Role> = relay.snapshot().iter().map(|c| c.role).collect();
    assert!(roles.iter().all(|r| *r == V4Role::Controller));
    relay.shutdown().await;
}

#[tokio::test]
async fn row1_other_paths_get_404_and_plain_http_426() {
    let relay = start(quiet()).await;
    for path in ["/v5", "/3f9a1c07", "/v4/x?tid=3f9a1c07", "/v4x"] {
        let status = http_status(&relay, &upgrade_request(path)).await;
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{path}");
    }
    let status = http_status(&relay, "GET /v4 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, "HTTP/1.1 426 Upgrade Required");
    assert_eq!(relay.connection_count(), 0);
    relay.shutdown().await;
}

// §7 row 2: hello first, with an 8-hex id unique among live connections.

#[tokio::test]
async fn row2_hello_comes_first_with_a_distinct_8_hex_id() {
    let relay = start(quiet()).await;
    let mut ids = std::collections::HashSet::new();
    let mut peers = vec![];
    for _ in 0..20 {
        let p = Peer::controller(&relay).await;
        assert_eq!(p.id.len(), 8, "{}", p.id);
        assert!(
            p.id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{}",
            p.id
        );
        assert!(ids.insert(p.id.clone()), "id {} handed out twice", p.id);
        peers.push(p);
    }
    // An App's first frame is its own hello too, before controller_attached.
    let (_c, a) = attached(&relay).await;
    assert!(!ids.contains(&a.id));
    relay.shutdown().await;
}

// §7 row 3: App join.

#[tokio::test]
async fn row3_app_join_gives_controller_attached_and_client_attached() {
    let relay = start(quiet()).await;
    let (mut c, mut a) = attached(&relay).await;
    // Nothing else goes out: the relay never tells an App about other Apps.
    let mut a2 = Peer::connect(&format!("{}?tid={}", base(&relay), c.id)).await;
    assert_eq!(a2.recv().await["type"], "controller_attached");
    assert_eq!(
        c.recv().await,
        json!({"type":"client_attached","clientId":a2.id})
    );
    a.silent_for(QUIET).await;
    a2.silent_for(Duration::from_millis(10)).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn row3_app_naming_no_controller_gets_controller_not_found_and_close_4001() {
    let relay = start(quiet()).await;
    let c = Peer::controller(&relay).await;
    let (_, app) = attached(&relay).await;
    // Stale, malformed, and an App's id instead of a controller's.
    for tid in ["deadbeef", "not-hex", app.id.as_str()] {
        let url = format!("{}?tid={tid}", base(&relay));
        let mut a = Peer::connect(&url).await;
        let (frames, close) = a.closed().await;
        assert_eq!(
            frames,
            [json!({"type":"error","code":"controller_not_found"})]
        );
        assert_eq!(close, Some((4001, "controller_not_found".into())));
    }
    assert!(relay.snapshot().iter().any(|x| x.id.to_string() == c.id));
    relay.shutdown().await;
}

// §7 row 4: route message, strip clientId towards the App, add it towards the
// controller; bad_request / client_not_found on bad controller frames.

#[tokio::test]
async fn row4_messages_lose_the_id_towards_the_app_and_gain_it_towards_the_controller() {
    let relay = start(quiet()).await;
    let (mut c, mut a) = attached(&relay).await;
    let data = json!({"t":"req","reqId":"1","m":"devices.get"});
    c.to(&a.id, data.clone()).await;
    assert_eq!(a.recv().await, json!({"type":"message","data":data}));
    // Whatever clientId the App writes is replaced by its own.
    let ev = json!({"t":"ev","ev":"custom.action","action":3});
    a.send(json!({"type":"message","clientId":"ffffffff","data":ev}))
        .await;
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":a.id,"data":ev})
    );
    // The payload is passed byte for byte, key order and spacing included.
    let raw = format!(
        r#"{{"type":"message","clientId":"{}","data":{{"z":1, "a":[2,3],"m":"x"}}}}"#,
        a.id
    );
    c.ws.send(Message::text(raw)).await.unwrap();
    match tokio::time::timeout(WAIT, a.ws.next()).await.unwrap() {
        Some(Ok(Message::Text(t))) => {
            assert_eq!(
                t.as_str(),
                r#"{"type":"message","data":{"z":1, "a":[2,3],"m":"x"}}"#
            )
        }
        other => panic!("{other:?}"),
    }
    c.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn row4_bad_controller_frames_get_bad_request_or_client_not_found_and_stay_open() {
    let relay = start(quiet()).await;
    let (mut c, mut a) = attached(&relay).await;
    let (_other, b) = attached(&relay).await;
    let data = json!({"t":"req","reqId":"9","m":"devices.get"});
    for bad in [
        json!({"type":"message","data":data}),
        json!({"type":"message","clientId":5,"data":data}),
        json!({"type":"message","clientId":null,"data":data}),
    ] {
        c.send(bad).await;
        assert_eq!(
            c.recv().await,
            json!({"type":"error","code":"bad_request","message":"message.clientId is required"})
        );
    }
    // Unknown, not an id, and an App attached to another controller.
    for target in ["ffffffff", "nobody", b.id.as_str()] {
        c.to(target, data.clone()).await;
        assert_eq!(
            c.recv().await,
            json!({"type":"error","code":"client_not_found","clientId":target})
        );
    }
    // Still open and routing.
    c.to(&a.id, data.clone()).await;
    assert_eq!(a.recv().await["data"], data);
    relay.shutdown().await;
}

// §7 row 5: answer ping from anyone with pong{ts}; swallow pong; ignore unknown types and
// invalid JSON.

#[tokio::test]
async fn row5_ping_from_either_side_gets_pong_with_ts_and_the_rest_is_ignored() {
    let relay = start(quiet()).await;
    let (mut c, mut a) = attached(&relay).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for p in [&mut c, &mut a] {
        p.send(json!({"type":"ping"})).await;
        let pong = p.recv().await;
        assert_eq!(pong["type"], "pong");
        let ts = pong["ts"].as_u64().expect("ts in ms");
        assert!(ts + 60_000 > now && ts < now + 60_000, "{ts} vs {now}");
    }
    for junk in [
        Message::text(r#"{"type":"pong"}"#),
        Message::text(r#"{"type":"bind","clientId":"x"}"#),
        Message::text("not json"),
        Message::text("[1,2]"),
        Message::text("42"),
        Message::text(r#"{"type":7}"#),
        Message::binary(vec![1, 2, 3]),
    ] {
        c.ws.send(junk.clone()).await.unwrap();
        a.ws.send(junk).await.unwrap();
    }
    c.silent_for(QUIET).await;
    a.silent_for(Duration::from_millis(10)).await;
    // Neither the pings nor the junk reached the other side; both are still served.
    c.to(&a.id, json!({"t":"req","reqId":"1","m":"ping"})).await;
    assert_eq!(a.recv().await["data"]["m"], "ping");
    relay.shutdown().await;
}

// §7 row 6: heartbeat every 30 s; native ping every 10 s; terminate after 3 missed pongs.

#[tokio::test]
async fn row6_heartbeat_goes_to_controllers_and_apps() {
    let relay = start(V4Config {
        heartbeat_interval: Some(Duration::from_millis(100)),
        ..quiet()
    })
    .await;
    let (mut c, mut a) = attached(&relay).await;
    for p in [&mut c, &mut a] {
        for _ in 0..2 {
            assert_eq!(p.recv().await, json!({"type":"heartbeat"}));
        }
    }
    relay.shutdown().await;
}

#[tokio::test]
async fn row6_a_socket_that_misses_three_native_pings_is_terminated_without_a_close_frame() {
    let relay = start(V4Config {
        ping_interval: Some(Duration::from_millis(100)),
        max_missed_pings: 3,
        ..quiet()
    })
    .await;
    let mut events = relay.subscribe();
    // A healthy controller that keeps reading (tungstenite answers each ping).
    let mut healthy = Peer::controller(&relay).await;
    let healthy_id = healthy.id.clone();
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(m)) = healthy.ws.next().await {
            if matches!(m, Message::Ping(_)) {
                pings += 1;
            }
            if pings == 8 {
                break;
            }
        }
        (pings, healthy)
    });
    // A silent one: reads its hello, then never reads again, so never answers.
    let mut mute = Peer::controller(&relay).await;
    loop {
        match next_event(&mut events).await {
            V4Event::Closed { id, reason, .. } if id.to_string() == mute.id => {
                assert_eq!(reason, "ping timeout");
                break;
            }
            V4Event::Closed { id, .. } => panic!("{id} closed"),
            _ => {}
        }
    }
    let (pings, _healthy) = tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();
    assert_eq!(pings, 8);
    assert!(relay
        .snapshot()
        .iter()
        .any(|c| c.id.to_string() == healthy_id && c.last_rtt.is_some()));
    // The mute socket had pings queued, then the connection simply ended.
    let (_, close) = mute.closed().await;
    assert_eq!(close, None, "terminated sockets get no close frame");
    relay.shutdown().await;
}

// §7 row 7: idle timer, 300 s per controller with zero Apps; cancelled on attach,
// restarted at zero.

#[tokio::test]
async fn row7_a_controller_alone_gets_idle_timeout_and_close_4002() {
    let relay = start(V4Config {
        idle_timeout: Some(Duration::from_millis(300)),
        ..quiet()
    })
    .await;
    let mut c = Peer::controller(&relay).await;
    let (frames, close) = c.closed().await;
    assert_eq!(frames, [json!({"type":"idle_timeout"})]);
    assert_eq!(close, Some((4002, "idle_timeout".into())));
    relay.shutdown().await;
}

#[tokio::test]
async fn row7_the_idle_timer_stops_on_attach_and_restarts_when_the_last_app_leaves() {
    let relay = start(V4Config {
        idle_timeout: Some(Duration::from_millis(300)),
        ..quiet()
    })
    .await;
    let (mut c, a) = attached(&relay).await;
    // Three idle periods with an App attached: nothing.
    c.silent_for(Duration::from_millis(900)).await;
    let app_id = a.id.clone();
    drop(a);
    assert_eq!(
        c.recv().await,
        json!({"type":"client_disconnected","clientId":app_id})
    );
    let (frames, close) = c.closed().await;
    assert_eq!(frames, [json!({"type":"idle_timeout"})]);
    assert_eq!(close.map(|c| c.0), Some(4002));
    relay.shutdown().await;
}

// §7 row 8: cascades (§4.6).

#[tokio::test]
async fn row8_a_controller_leaving_sends_every_app_controller_disconnected_and_close_4000() {
    let relay = start(quiet()).await;
    let mut c = Peer::controller(&relay).await;
    let mut apps = vec![];
    for _ in 0..3 {
        let mut a = Peer::connect(&format!("{}?tid={}", base(&relay), c.id)).await;
        assert_eq!(a.recv().await["type"], "controller_attached");
        assert_eq!(c.recv().await["type"], "client_attached");
        apps.push(a);
    }
    let cid = c.id.clone();
    c.ws.close(None).await.unwrap();
    for a in &mut apps {
        let (frames, close) = a.closed().await;
        assert_eq!(
            frames,
            [json!({"type":"controller_disconnected","clientId":cid})]
        );
        assert_eq!(close, Some((4000, "controller_disconnected".into())));
    }
    assert_eq!(relay.snapshot(), []);
    relay.shutdown().await;
}

#[tokio::test]
async fn row8_an_app_leaving_tells_its_controller_only() {
    let relay = start(quiet()).await;
    let (mut c, mut a1) = attached(&relay).await;
    let mut a2 = Peer::connect(&format!("{}?tid={}", base(&relay), c.id)).await;
    assert_eq!(a2.recv().await["type"], "controller_attached");
    assert_eq!(c.recv().await["type"], "client_attached");
    let gone = a1.id.clone();
    a1.ws.close(None).await.unwrap();
    assert_eq!(
        c.recv().await,
        json!({"type":"client_disconnected","clientId":gone})
    );
    a2.silent_for(QUIET).await;
    // Messages to the gone App are client_not_found now.
    c.to(&gone, json!({})).await;
    assert_eq!(c.recv().await["code"], "client_not_found");
    relay.shutdown().await;
}

// §7 row 9: inbound frame cap 1 MiB (1009 above it).

#[tokio::test]
async fn row9_a_frame_above_1_mib_closes_with_1009_and_one_below_is_relayed() {
    let relay = start(quiet()).await;
    let (mut c, mut a) = attached(&relay).await;
    // Just under the cap: relayed whole.
    let wrapper = r#"{"type":"message","data":{"t":"ev","pad":""}}"#.len();
    let pad = "x".repeat(v4::MAX_FRAME - wrapper);
    a.send(json!({"type":"message","data":{"t":"ev","pad":pad}}))
        .await;
    let got = c.recv().await;
    assert_eq!(got["data"]["pad"].as_str().map(str::len), Some(pad.len()));
    // One byte more than the cap.
    let big = format!(
        r#"{{"type":"message","clientId":"{}","data":"{}"}}"#,
        a.id,
        "y".repeat(v4::MAX_FRAME)
    );
    c.ws.send(Message::text(big)).await.unwrap();
    let (_, close) = c.closed().await;
    assert_eq!(close.map(|c| c.0), Some(1009));
    // Its App follows it (cascade).
    let (_, close) = a.closed().await;
    assert_eq!(close.map(|c| c.0), Some(4000));
    relay.shutdown().await;
}

// §7 row 10: structured record of the connections (events and snapshot).

#[tokio::test]
async fn row10_events_and_snapshot_say_who_is_connected_attached_and_gone() {
    let relay = start(quiet()).await;
    let mut ev = relay.subscribe();
    let (c, a) = attached(&relay).await;
    let (cid, aid) = (V4Id::parse(&c.id).unwrap(), V4Id::parse(&a.id).unwrap());
    assert!(matches!(next_event(&mut ev).await,
        V4Event::Connected { id, role: V4Role::Controller, remote: Some(_) } if id == cid));
    assert!(matches!(next_event(&mut ev).await,
        V4Event::Connected { id, role: V4Role::App, .. } if id == aid));
    assert_eq!(
        next_event(&mut ev).await,
        V4Event::Attached {
            app: aid,
            controller: cid
        }
    );
    let snap = relay.snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].id, cid);
    assert_eq!(snap[0].apps.iter().map(|a| a.id).collect::<Vec<_>>(), [aid]);
    let mut c = c;
    c.ws.close(None).await.unwrap();
    let mut seen = vec![];
    for _ in 0..3 {
        seen.push(next_event(&mut ev).await);
    }
    assert_eq!(
        seen,
        [
            V4Event::Detached {
                app: aid,
                controller: cid
            },
            V4Event::Closed {
                id: aid,
                role: V4Role::App,
                reason: "controller_disconnected"
            },
            V4Event::Closed {
                id: cid,
                role: V4Role::Controller,
                reason: "closed"
            },
        ]
    );
    drop(a);
    relay.shutdown().await;
}

#[tokio::test]
async fn row10_every_routed_payload_is_an_event_for_the_inspector_when_asked_for() {
    let relay = start(quiet()).await;
    let mut ev = relay.subscribe();
    let (mut c, mut a) = attached(&relay).await;
    let (cid, aid) = (V4Id::parse(&c.id).unwrap(), V4Id::parse(&a.id).unwrap());
    // Off by default.
    c.to(&a.id, json!({"n":1})).await;
    a.recv().await;
    relay.set_relayed_events(true);
    c.to(&a.id, json!({"n":2})).await;
    a.recv().await;
    a.send(json!({"type":"message","data":{"line":"x\ny"}}))
        .await;
    c.recv().await;
    let relayed: Vec<V4Event> = std::iter::from_fn(|| ev.try_recv().ok())
        .filter(|e| matches!(e, V4Event::Relayed { .. }))
        .collect();
    assert_eq!(
        relayed,
        [
            V4Event::Relayed {
                from: cid,
                to: aid,
                data: r#"{\"n\":2}"#.into()
            },
            // Escaped for a log line: the newline cannot forge one.
            V4Event::Relayed {
                from: aid,
                to: cid,
                data: r#"{\"line\":\"x\\ny\"}"#.into()
            },
        ]
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn row10_a_client_sending_bad_frames_in_a_loop_gets_every_error_but_few_events() {
    let relay = start(quiet()).await;
    let mut ev = relay.subscribe();
    let mut c = Peer::controller(&relay).await;
    let cid = V4Id::parse(&c.id).unwrap();
    for _ in 0..20 {
        c.send(json!({"type":"message","data":{}})).await;
    }
    for _ in 0..20 {
        assert_eq!(c.recv().await["code"], "bad_request");
    }
    c.ws.close(None).await.unwrap();
    let (mut errors, mut not_shown) = (vec![], None);
    loop {
        match next_event(&mut ev).await {
            V4Event::Error { id, code } if id == cid => errors.push(code),
            V4Event::ErrorsNotShown { id, count } if id == cid => not_shown = Some(count),
            V4Event::Closed { id, .. } if id == cid => break,
            _ => {}
        }
    }
    assert_eq!(errors, ["bad_request"; 5]);
    assert_eq!(not_shown, Some(15));
    relay.shutdown().await;
}

#[tokio::test]
async fn row1_several_listeners_are_one_relay() {
    let l1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = v4::start_many(vec![l1, l2], quiet()).unwrap();
    let [a1, a2] = [relay.local_addrs()[0], relay.local_addrs()[1]];
    let mut c = Peer::connect(&format!("ws://{a1}/v4")).await;
    let mut a = Peer::connect(&format!("ws://{a2}/v4?tid={}", c.id)).await;
    assert_eq!(a.recv().await["type"], "controller_attached");
    assert_eq!(c.recv().await["type"], "client_attached");
    relay.shutdown().await;
}

// §7 row 11: the same hardening as SOCKET v2 (connection limits).

#[tokio::test]
async fn row11_connections_over_the_limit_get_503() {
    let mut config = quiet();
    config.limits.max_connections = 2;
    config.limits.reserved_connections = 0;
    let relay = start(config).await;
    let _a = Peer::controller(&relay).await;
    let _b = Peer::controller(&relay).await;
    let status = http_status(&relay, &upgrade_request("/v4")).await;
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    relay.shutdown().await;
}

#[tokio::test]
async fn row11_a_silent_handshake_is_closed_at_the_deadline() {
    let mut config = quiet();
    config.limits.handshake_timeout = Duration::from_millis(200);
    let relay = start(config).await;
    let mut s = TcpStream::connect(relay.local_addr()).await.unwrap();
    let mut buf = vec![];
    let n = tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("still open after the deadline");
    assert!(n.is_err() || buf.is_empty(), "{buf:?}");
    relay.shutdown().await;
}

#[tokio::test]
async fn row11_an_app_that_stops_reading_is_dropped_as_too_slow() {
    let mut config = quiet();
    config.limits.outbound_queue = 8;
    config.limits.ping_timeout = Duration::from_millis(300);
    config.limits.send_buffer_size = Some(16 * 1024);
    let relay = start(config).await;
    let mut events = relay.subscribe();
    let (mut c, a) = attached(&relay).await;
    let app_id = V4Id::parse(&a.id).unwrap();
    // The App reads nothing from now on; the controller sends far more than the socket
    // buffers hold.
    let pad = "z".repeat(256 * 1024);
    let (mut sink, mut stream) = c.ws.split();
    let target = a.id.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let sender = tokio::spawn(async move {
        for i in 0..200 {
            if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let frame = json!({"type":"message","clientId":target,"data":{"i":i,"pad":pad}});
            if sink.send(Message::text(frame.to_string())).await.is_err() {
                break;
            }
        }
        sink
    });
    loop {
        match next_event(&mut events).await {
            V4Event::Closed { id, reason, .. } if id == app_id => {
                assert_eq!(reason, "too slow");
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            V4Event::Closed { id, reason, .. } => panic!("{id} closed: {reason}"),
            _ => {}
        }
    }
    // The controller is told and stays connected.
    let told = loop {
        let m = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            break serde_json::from_str::<Value>(&t).unwrap();
        }
    };
    assert_eq!(told, json!({"type":"client_disconnected","clientId":a.id}));
    let sink = sender.await.unwrap();
    c.ws = sink.reunite(stream).unwrap();
    c.send(json!({"type":"ping"})).await;
    // Frames sent after the App was dropped are answered client_not_found, then the pong.
    loop {
        let f = c.recv().await;
        if f["type"] == "pong" {
            break;
        }
        assert_eq!(f["code"], "client_not_found", "{f}");
    }
    drop(a);
    relay.shutdown().await;
}

#[tokio::test]
async fn row11_a_local_controller_that_stops_reading_is_dropped_as_too_slow() {
    let mut config = quiet();
    config.limits.outbound_queue = 4;
    let relay = start(config).await;
    let (link, _unread_inbox) = relay.join_local();
    let app = SimApp::join(
        &base(&relay),
        &link.id().to_string(),
        vec![],
        Options::default(),
    )
    .await;
    for i in 0..10 {
        app.tap(i % 10);
    }
    assert_eq!(app.closed().await, Some(4000));
    assert!(relay.snapshot().is_empty());
    assert_eq!(
        link.send(V4Id::parse(&app.id).unwrap(), "{}"),
        Err(V4SendError::Gone)
    );
    relay.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The seams: an in-process controller, and the guard on payloads bound for Apps.

#[tokio::test]
async fn local_controller_drives_apps_without_a_socket() {
    let relay = start(quiet()).await;
    let (link, mut inbox) = relay.join_local();
    let app = SimApp::join(
        &base(&relay),
        &link.id().to_string(),
        vec![Device::coyote3(SLOT)],
        Options::default(),
    )
    .await;
    let aid = V4Id::parse(&app.id).unwrap();
    assert_eq!(inbox.recv().await, Some(V4Incoming::Attached(aid)));
    match inbox.recv().await {
        Some(V4Incoming::Message { app: from, data }) => {
            assert_eq!(from, aid);
            let v: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(v["ev"], "devices.snapshot");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(link.apps(), [aid]);
    link.send(
        aid,
        r#"{"t":"req","reqId":"1","m":"device.op","data":{"s":"A1B2C3D4E5F6","t":3,"c":1,"v":7}}"#,
    )
    .unwrap();
    let mut got = vec![];
    for _ in 0..2 {
        match inbox.recv().await {
            Some(V4Incoming::Message { data, .. }) => {
                got.push(serde_json::from_str::<Value>(&data).unwrap())
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got[0]["ev"], "slots.patch");
    assert_eq!(got[1]["result"]["reason"], "completed");
    assert_eq!(app.intensity(SLOT, 1), 7);
    assert_eq!(
        link.send(V4Id(0xffff_ffff), "{}"),
        Err(V4SendError::ClientNotFound)
    );
    assert_eq!(link.send(aid, "{nope"), Err(V4SendError::InvalidJson));
    // Leaving cascades like a socket controller.
    let lid = link.id();
    drop(link);
    assert_eq!(app.closed().await, Some(4000));
    let notice = app
        .relay_frame(|f| f["type"] == "controller_disconnected")
        .await;
    assert_eq!(notice["clientId"], lid.to_string());
    assert_eq!(inbox.recv().await, None);
    relay.shutdown().await;
}

/// Refuses strength raises above 10 (answering in the App's name), halves pulses'
/// durations (a replacement), and records what the Apps said.
#[derive(Debug, Default)]
struct TestGuard {
    seen_from_apps: Mutex<Vec<String>>,
    left: Mutex<Vec<V4Id>>,
}

impl V4Guard for TestGuard {
    fn controller_sent(&self, _app: V4Id, _controller: V4Id, data: &str) -> V4Verdict {
        let v: Value = serde_json::from_str(data).unwrap();
        let op = &v["data"];
        if op["t"] == 3 && op["v"].as_i64().unwrap_or(0) > 10 {
            let answer = json!({"t":"resp","reqId":v["reqId"],"error":"refused"});
            return V4Verdict::Refuse(Some(answer.to_string()));
        }
        if op["t"] == 3 && op["v"] == 9 {
            return V4Verdict::Refuse(None);
        }
        if op["t"] == 3 && op["v"] == 8 {
            let mut v = v.clone();
            v["data"]["v"] = json!(2);
            return V4Verdict::Replace(v.to_string());
        }
        V4Verdict::Pass
    }

    fn app_sent(&self, _app: V4Id, _controller: V4Id, data: &str) -> Vec<String> {
        self.seen_from_apps.lock().unwrap().push(data.to_owned());
        vec![]
    }

    fn app_left(&self, app: V4Id) {
        self.left.lock().unwrap().push(app);
    }
}

#[tokio::test]
async fn the_guard_sees_every_payload_for_an_app_and_may_replace_or_refuse_it() {
    let relay = start(quiet()).await;
    let guard = Arc::new(TestGuard::default());
    relay.set_guard(Some(guard.clone()));
    let mut c = Peer::controller(&relay).await;
    let app = SimApp::join(
        &base(&relay),
        &c.id,
        vec![Device::coyote3(SLOT)],
        Options::default(),
    )
    .await;
    assert_eq!(c.recv().await["type"], "client_attached");
    assert_eq!(c.recv().await["data"]["ev"], "devices.snapshot");
    let op = |req: &str, v: i64| json!({"t":"req","reqId":req,"m":"device.op","data":{"s":SLOT,"t":3,"c":0,"v":v}});
    c.to(&app.id, op("1", 50)).await;
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":app.id,"data":{"t":"resp","reqId":"1","error":"refused"}})
    );
    c.to(&app.id, op("2", 9)).await;
    assert_eq!(
        c.recv().await,
        json!({"type":"error","code":"refused","clientId":app.id})
    );
    c.to(&app.id, op("3", 8)).await;
    assert_eq!(c.recv().await["data"]["slots"][0]["props"]["intensityA"], 2);
    assert_eq!(c.recv().await["data"]["reqId"], "3");
    assert_eq!(app.intensity(SLOT, 0), 2);
    // Only the replaced one reached the App.
    assert_eq!(app.until(|s| Some(s.requests.len())).await, 1);
    assert!(guard.seen_from_apps.lock().unwrap()[0].contains("devices.snapshot"));
    let aid = V4Id::parse(&app.id).unwrap();
    app.close().await;
    assert_eq!(c.recv().await["type"], "client_disconnected");
    assert_eq!(*guard.left.lock().unwrap(), [aid]);
    relay.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// §11: the five example exchanges, with the simulated 4.x App.

/// A controller and a simulated App with one Coyote 3.0, the snapshot consumed.
async fn paired(relay: &V4Handle, opts: Options) -> (Peer, SimApp) {
    let mut c = Peer::controller(relay).await;
    let app = SimApp::join(&base(relay), &c.id, vec![Device::coyote3(SLOT)], opts).await;
    assert_eq!(
        c.recv_no_hb().await,
        json!({"type":"client_attached","clientId":app.id})
    );
    let snap = c.recv_no_hb().await;
    assert_eq!(snap["data"]["ev"], "devices.snapshot", "{snap}");
    (c, app)
}

#[tokio::test]
async fn exchange_11_1_pairing_and_first_snapshot() {
    let relay = start(quiet()).await;
    let mut c = Peer::controller(&relay).await;
    let app = SimApp::join(
        &format!("ws://{}/v4", relay.local_addr()),
        &c.id,
        vec![Device::coyote3(SLOT)],
        Options::default(),
    )
    .await;
    // The App saw hello (its own id) then controller_attached (SimApp::join checks).
    let frames = app.state.lock().unwrap().relay_frames.clone();
    assert_eq!(
        frames,
        [
            json!({"type":"hello","clientId":app.id}),
            json!({"type":"controller_attached","clientId":c.id}),
        ]
    );
    assert_eq!(
        c.recv().await,
        json!({"type":"client_attached","clientId":app.id})
    );
    let snap = c.recv().await;
    assert_eq!(
        snap,
        json!({"type":"message","clientId":app.id,"data":{"t":"ev","ev":"devices.snapshot","devices":[{
            "id":0,"slotId":SLOT,"name":"郊狼 3.0","type":"COYOTE_030",
            "props":{"power":87,"intensityA":0,"intensityB":0,"connectState":"connected","channelAStatus":2,"channelBStatus":1},
            "slotState":{"markLight":"yellow","hasDevice":true,
                "channelA":{"isMuted":false,"warmUpScale":1,"intensityMax":40},
                "channelB":{"isMuted":false,"warmUpScale":1,"intensityMax":40}}}]}})
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn exchange_11_2_keepalive_device_list_and_app_ping() {
    let relay = start(V4Config {
        heartbeat_interval: Some(Duration::from_millis(150)),
        ..quiet()
    })
    .await;
    let (mut c, app) = paired(&relay, Options::default()).await;
    c.send(json!({"type":"ping"})).await;
    assert_eq!(c.recv_no_hb().await["type"], "pong");
    app.send_frame(json!({"type":"ping"}));
    let pong = app.relay_frame(|f| f["type"] == "pong").await;
    assert!(pong["ts"].is_u64(), "{pong}");
    // Heartbeats reach the App too.
    app.relay_frame(|f| *f == json!({"type":"heartbeat"})).await;
    c.to(&app.id, json!({"t":"req","reqId":"1","m":"devices.get"}))
        .await;
    assert_eq!(
        c.recv_no_hb().await,
        json!({"type":"message","clientId":app.id,"data":{"t":"resp","reqId":"1","result":{"devices":[
            {"slotId":SLOT,"name":"郊狼 3.0","type":"COYOTE_030"}]}}})
    );
    c.to(&app.id, json!({"t":"req","reqId":"2","m":"ping"}))
        .await;
    let r = c.recv_no_hb().await;
    assert_eq!(r["data"]["reqId"], "2");
    assert!(r["data"]["result"].is_u64(), "{r}");
    // The App got exactly the payloads, without clientId.
    let reqs = app.state.lock().unwrap().requests.clone();
    assert_eq!(
        reqs,
        [
            json!({"t":"req","reqId":"1","m":"devices.get"}),
            json!({"t":"req","reqId":"2","m":"ping"})
        ]
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn exchange_11_3_strength_plus_5_observe_reset() {
    let relay = start(quiet()).await;
    let (mut c, app) = paired(&relay, Options::default()).await;
    let a = app.id.clone();
    c.to(
        &a,
        json!({"t":"req","reqId":"3","m":"device.op","data":{"s":SLOT,"t":3,"c":0,"p":1,"v":5}}),
    )
    .await;
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":a,"data":{"t":"ev","ev":"slots.patch","slots":[{"slotId":SLOT,"props":{"intensityA":5}}]}})
    );
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":a,"data":{"t":"resp","reqId":"3","result":{"type":3,"reason":"completed","slotId":SLOT,"channel":0}}})
    );
    assert_eq!(app.intensity(SLOT, 0), 5);
    c.to(
        &a,
        json!({"t":"req","reqId":"4","m":"device.op","data":{"s":SLOT,"t":7,"c":0,"p":1,"v":0}}),
    )
    .await;
    assert_eq!(
        c.recv().await["data"],
        json!({"t":"ev","ev":"slots.patch","slots":[{"slotId":SLOT,"props":{"intensityA":0}}]})
    );
    assert_eq!(
        c.recv().await["data"],
        json!({"t":"resp","reqId":"4","result":{"type":7,"reason":"completed","slotId":SLOT,"channel":0}})
    );
    c.to(
        &a,
        json!({"t":"req","reqId":"5","m":"device.op","data":{"s":SLOT,"t":7,"c":0,"v":20}}),
    )
    .await;
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":a,"data":{"t":"resp","reqId":"5","error":"invalid_operate"}})
    );
    assert_eq!(app.intensity(SLOT, 0), 0);
    relay.shutdown().await;
}

#[tokio::test]
async fn exchange_11_4_waveform_batch_replaced_then_the_channel_cleared() {
    let relay = start(quiet()).await;
    let (mut c, app) = paired(&relay, Options::default()).await;
    let a = app.id.clone();
    let batch: Vec<String> = [
        "0A0A0A0A00000000",
        "0A0A0A0A14141414",
        "0A0A0A0A28282828",
        "0A0A0A0A3C3C3C3C",
        "0A0A0A0A50505050",
        "0A0A0A0A64646464",
        "0A0A0A0A64646464",
        "0A0A0A0A64646464",
        "0A0A0A0A00000000",
        "0A0A0A0A00000000",
    ]
    .map(String::from)
    .to_vec();
    c.to(&a, json!({"t":"req","reqId":"6","m":"device.op","data":{"s":SLOT,"t":0,"c":0,"p":1,"d":1000,"v":batch}}))
        .await;
    // The spec's cut-over has d:300; 3000 here so the clear surely comes before it
    // completes on a loaded machine (had it finished first: `completed` instead).
    c.to(&a, json!({"t":"req","reqId":"7","m":"device.op","data":{"s":SLOT,"t":0,"c":0,"p":1,"d":3000,"im":true,
        "v":["2D2D2D2D00000000","2D2D2D2D64646464","2D2D2D2D64646464"]}}))
        .await;
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":a,"data":{"t":"resp","reqId":"6","result":{"type":0,"reason":"replaced","slotId":SLOT,"channel":0}}})
    );
    c.to(
        &a,
        json!({"t":"req","reqId":"8","m":"device.op.clear","data":{"s":SLOT,"c":0}}),
    )
    .await;
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":a,"data":{"t":"resp","reqId":"8","result":{}}})
    );
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":a,"data":{"t":"resp","reqId":"7","result":{"type":0,"reason":"cleared","slotId":SLOT,"channel":0}}})
    );
    // The frames reached the App unchanged.
    let reqs = app.state.lock().unwrap().requests.clone();
    assert_eq!(reqs[0]["data"]["v"], json!(batch));
    relay.shutdown().await;
}

#[tokio::test]
async fn exchange_11_5_failure_paths_and_teardown() {
    let relay = start(V4Config {
        idle_timeout: Some(Duration::from_millis(400)),
        ..quiet()
    })
    .await;
    let (mut c, app) = paired(&relay, Options::default()).await;
    let a = app.id.clone();
    // A stale QR.
    let mut stale = Peer::connect(&format!("{}?tid=deadbeef", base(&relay))).await;
    let (frames, close) = stale.closed().await;
    assert_eq!(
        frames,
        [json!({"type":"error","code":"controller_not_found"})]
    );
    assert_eq!(close, Some((4001, "controller_not_found".into())));
    // A controller frame without clientId, then one for an unknown App.
    c.send(json!({"type":"message","data":{"t":"req","reqId":"9","m":"devices.get"}}))
        .await;
    assert_eq!(
        c.recv().await,
        json!({"type":"error","code":"bad_request","message":"message.clientId is required"})
    );
    c.to(
        "ffffffff",
        json!({"t":"req","reqId":"10","m":"devices.get"}),
    )
    .await;
    assert_eq!(
        c.recv().await,
        json!({"type":"error","code":"client_not_found","clientId":"ffffffff"})
    );
    // The user taps "A" (the safeword): the controller stops everything.
    app.tap(0);
    assert_eq!(
        c.recv().await,
        json!({"type":"message","clientId":a,"data":{"t":"ev","ev":"custom.action","action":0}})
    );
    c.to(&a, json!({"t":"req","reqId":"11","m":"device.op.clear"}))
        .await;
    for (req, ch) in [("12", 0), ("13", 1)] {
        c.to(&a, json!({"t":"req","reqId":req,"m":"device.op","data":{"s":SLOT,"t":7,"c":ch,"p":0,"im":true,"v":0}}))
            .await;
    }
    assert_eq!(
        c.recv().await["data"],
        json!({"t":"resp","reqId":"11","result":{}})
    );
    for req in ["12", "13"] {
        assert_eq!(c.recv().await["data"]["ev"], "slots.patch");
        assert_eq!(c.recv().await["data"]["reqId"], req);
    }
    // The controller quits: the App is told, then closed with 4000.
    let cid = c.id.clone();
    c.ws.close(None).await.unwrap();
    assert_eq!(app.closed().await, Some(4000));
    let last = app.state.lock().unwrap().relay_frames.last().cloned();
    assert_eq!(
        last,
        Some(json!({"type":"controller_disconnected","clientId":cid}))
    );
    // A controller that never gets an App.
    let mut c2 = Peer::controller(&relay).await;
    let (frames, close) = c2.closed().await;
    assert_eq!(frames, [json!({"type":"idle_timeout"})]);
    assert_eq!(close, Some((4002, "idle_timeout".into())));
    relay.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The simulated App itself: several devices, and §9's auto-increase, as the controller
// sees them through the relay.

#[tokio::test]
async fn sim_app_with_two_devices_reports_its_own_auto_increase() {
    let relay = start(quiet()).await;
    let mut c = Peer::controller(&relay).await;
    let app = SimApp::join(
        &base(&relay),
        &c.id,
        vec![Device::coyote3(SLOT), Device::coyote2("B2")],
        Options {
            auto_incr_every: Some(Duration::from_millis(200)),
            adaptive_every: Some(Duration::from_millis(200)),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(c.recv().await["type"], "client_attached");
    let snap = c.recv().await;
    let slots: Vec<&str> = snap["data"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["slotId"].as_str().unwrap())
        .collect();
    assert_eq!(slots, [SLOT, "B2"]);
    // Unasked, the App raises its limit and then its strength, on both devices.
    let (mut max_rose, mut strength_rose) = (false, false);
    while !(max_rose && strength_rose) {
        let f = c.recv().await;
        assert_eq!(f["data"]["ev"], "slots.patch", "{f}");
        for s in f["data"]["slots"].as_array().unwrap() {
            if s["slotState"]["channelA"]["intensityMax"].as_i64() > Some(40) {
                max_rose = true;
            }
            if s["props"]["intensityB"].as_i64() > Some(0) {
                strength_rose = true;
            }
        }
    }
    assert!(app.intensity("B2", 0) > 0);
    // A clear of one unknown slot, and one channel without a slot, are refused.
    c.to(
        &app.id,
        json!({"t":"req","reqId":"x","m":"device.op.clear","data":{"s":"nope"}}),
    )
    .await;
    c.to(
        &app.id,
        json!({"t":"req","reqId":"y","m":"device.op.clear","data":{"c":0}}),
    )
    .await;
    let mut errors = vec![];
    while errors.len() < 2 {
        let f = c.recv().await;
        if f["data"]["t"] == "resp" {
            errors.push(f["data"]["error"].clone());
        }
    }
    assert_eq!(errors, [json!("slot_not_found"), json!("invalid_params")]);
    relay.shutdown().await;
}

#[tokio::test]
async fn sim_app_strength_decays_without_a_waveform_and_holds_with_one() {
    let relay = start(quiet()).await;
    let (mut c, app) = paired(
        &relay,
        Options {
            decay_every: Some(Duration::from_millis(100)),
            ..Options::default()
        },
    )
    .await;
    let op = |req: &str, data: Value| json!({"t":"req","reqId":req,"m":"device.op","data":data});
    // A waveform on A for 5 s, then +10 on both channels.
    c.to(
        &app.id,
        op(
            "p",
            json!({"s":SLOT,"t":0,"c":0,"d":5000,"v":["0A0A0A0A64646464"]}),
        ),
    )
    .await;
    for (req, ch) in [("a", 0), ("b", 1)] {
        c.to(&app.id, op(req, json!({"s":SLOT,"t":3,"c":ch,"v":10})))
            .await;
    }
    let mut answered = 0;
    while answered < 2 {
        if c.recv().await["data"]["result"]["reason"] == "completed" {
            answered += 1;
        }
    }
    // B, silent, decays to 0 while A, playing, holds at 10.
    app.until(|s| (s.devices[0].intensity[1] == 0).then_some(()))
        .await;
    assert_eq!(app.intensity(SLOT, 0), 10);
    relay.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Shutdown closes every socket with 1001 and leaves no task behind.

#[tokio::test]
async fn shutdown_closes_every_socket_with_1001() {
    let relay = start(quiet()).await;
    let (mut c, mut a) = attached(&relay).await;
    tokio::time::timeout(WAIT, relay.shutdown()).await.unwrap();
    assert!(relay.is_shut_down());
    for p in [&mut c, &mut a] {
        let (_, close) = p.closed().await;
        assert!(
            matches!(close.as_ref().map(|c| c.0), Some(1001 | 4000)),
            "{close:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// `dglab-relay serve --v4-port N`: the V4 relay beside SOCKET v2 in the binary. Never on
// 9998: another test's relay may hold it.

mod serve_flag {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    const BIN: &str = env!("CARGO_BIN_EXE_dglab-relay");

    /// A port that was free a moment ago.
    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn serve_runs_the_v4_relay_on_v4_port_logs_it_and_closes_it_on_sigterm() {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .args(["--v4-port", &port.to_string(), "--v4-idle-timeout", "60"])
            .env("DGLAB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = vec![];
        let mut line_with = async |needle: String| loop {
            let line = tokio::time::timeout(WAIT, lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} in {seen:#?}"))
                .expect("the relay ended");
            seen.push(line.clone());
            if line.contains(&needle) {
                return line;
            }
        };
        let started = line_with(format!("V4 relay (DG-LAB App 4.x) on 127.0.0.1:{port}")).await;
        assert!(started.contains("idle timeout 60 s"), "{started}");
        let url = format!("ws://127.0.0.1:{port}/v4");
        let mut c = Peer::connect(&url).await;
        let mut a = Peer::connect(&format!("{url}?tid={}", c.id)).await;
        assert_eq!(a.recv().await["type"], "controller_attached");
        assert_eq!(c.recv().await["type"], "client_attached");
        line_with(format!("V4 App {} attached to controller {}", a.id, c.id)).await;
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let (_, close) = a.closed().await;
        assert!(
            matches!(close.as_ref().map(|c| c.0), Some(1001 | 4000)),
            "{close:?}"
        );
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }

    /// With a cap, the relay-wide policy binds V4 Apps too (rule 1): a controller's
    /// `AddIntensity +150` reaches the App as at most the cap, a raise at the cap is refused
    /// in the App's name, and on SIGTERM the App is cleared and set to 0 before the relay
    /// closes.
    #[tokio::test]
    async fn with_caps_a_v4_controller_cannot_drive_an_app_past_the_policy() {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--cap-a",
                "10",
                "--max-rise-per-sec",
                "200",
            ])
            .args(["--v4-port", &port.to_string()])
            .env("DGLAB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line = tokio::time::timeout(WAIT, lines.recv())
                .await
                .unwrap()
                .unwrap();
            if line.contains("V4 relay (DG-LAB App 4.x) on") {
                assert!(line.contains("every App capped"), "{line}");
                break;
            }
        }
        let url = format!("ws://127.0.0.1:{port}/v4");
        let mut c = Peer::connect(&url).await;
        let app = SimApp::join(&url, &c.id, vec![Device::coyote3(SLOT)], Options::default()).await;
        assert_eq!(c.recv().await["type"], "client_attached");
        let mut answers = vec![];
        for i in 0..12 {
            let id = format!("r{i}");
            c.to(&app.id, json!({"t":"req","reqId":id,"m":"device.op","data":{"s":SLOT,"t":3,"c":0,"p":1,"v":150}}))
                .await;
            loop {
                let f = c.recv_no_hb().await;
                if f["data"]["t"] == "resp" && f["data"]["reqId"] == id {
                    answers.push(f["data"]["error"].as_str().unwrap_or("ok").to_owned());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(app.intensity(SLOT, 0), 10);
        assert_eq!(
            answers.iter().filter(|a| *a == "refused").count(),
            2,
            "{answers:?}"
        );
        let max_step = app
            .until(|st| {
                Some(
                    st.requests
                        .iter()
                        .filter(|r| r["data"]["t"] == 3)
                        .filter_map(|r| r["data"]["v"].as_i64())
                        .max()
                        .unwrap_or(0),
                )
            })
            .await;
        assert_eq!(max_step, 1, "no raise above +1 reached the App");
        // A long waveform is playing when the relay is told to stop.
        c.to(&app.id, json!({"t":"req","reqId":"w","m":"device.op","data":{"s":SLOT,"t":0,"c":0,"d":60000,"v":["0A0A0A0A64646464"]}}))
            .await;
        app.until(|st| (!sim_app_v4::running(st).is_empty()).then_some(()))
            .await;
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        // Closed (with 1001, or without a frame when the App was still answering the stop).
        let _ = app.closed().await;
        assert_eq!(app.intensity(SLOT, 0), 0, "SIGTERM set the V4 App to 0");
        assert!(
            app.until(|st| Some(sim_app_v4::running(st).is_empty()))
                .await
        );
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }

    /// With `--local-terminal`, a V4 controller joins too and its link is printed: a 4.x
    /// App that follows it pairs, and what it reports is logged.
    #[tokio::test]
    async fn local_terminal_prints_a_v4_link_an_app_can_pair_with() {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--local-terminal",
            ])
            .args(["--v4-port", &port.to_string()])
            .env("DGLAB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut seen = vec![];
        let mut line_with = async |needle: String| loop {
            let line = tokio::time::timeout(WAIT, lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} in {seen:#?}"))
                .expect("the relay ended");
            seen.push(line.clone());
            if line.contains(&needle) {
                return line;
            }
        };
        let link = line_with("V4 link:".into()).await;
        let prefix = format!(
            "V4 link:     https://dungeon-lab.cn/s/?v=1&action=socket&url=ws%3A%2F%2F127.0.0.1%3A{port}%2F%3Ftid%3D"
        );
        let tid = link
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{link}"));
        assert!(V4Id::parse(tid).is_some(), "{tid}");
        let app = SimApp::join(
            &format!("ws://127.0.0.1:{port}/"),
            tid,
            vec![Device::coyote3(SLOT)],
            Options::default(),
        )
        .await;
        line_with(format!(
            "V4 App {} devices: 郊狼 3.0 (COYOTE_030, slot {SLOT})",
            app.id
        ))
        .await;
        app.tap(2);
        line_with(format!("V4 App {} custom action C", app.id)).await;
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        assert_eq!(app.closed().await, Some(4000));
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }

    #[test]
    fn a_given_v4_port_that_is_taken_is_one_line_and_exit_2() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let out = Command::new(BIN)
            .args([
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--v4-port",
                &port,
            ])
            .env("DGLAB_LOG", "info")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "error: V4 port {port} is already in use; choose another with --v4-port <N>, \
                 or 0 to turn the V4 relay off\n"
            )
        );
    }

    #[test]
    fn v4_port_0_turns_it_off() {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--v4-port",
                "0",
            ])
            .env("DGLAB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // Up to the startup line (the open-files warning may come before it).
        let mut head = String::new();
        while !head.contains("listening on 127.0.0.1:") {
            assert!(stderr.read_line(&mut head).unwrap() > 0, "{head}");
        }
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        assert!(child.wait().unwrap().success());
        assert!(!head.contains("V4") && !rest.contains("V4"), "{head}{rest}");
    }
}
