//! Issue 11, point 1: what hostile and third-party clients found, each over real sockets
//! on 127.0.0.1 (127.0.0.x for a second "host").

mod common;

use common::{pair, start_relay_with, Client};
use dglab_core::relay::{RelayConfig, RelayHandle};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

const QUIET: Duration = Duration::from_millis(300);

fn quiet_config() -> RelayConfig {
    RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        ..RelayConfig::default()
    }
}

async fn relay() -> RelayHandle {
    start_relay_with(quiet_config()).await
}

/// A message that makes each frame close to the App's 1950-character limit.
fn big(i: usize) -> String {
    format!("{i:08}-{}", "x".repeat(1800))
}

// ---------------------------------------------------------------------------------------
// A raw WebSocket client over TCP: does the handshake, then reads only when told to.

struct Raw {
    tcp: TcpStream,
    id: String,
}

impl Raw {
    /// Connects from `from` (127.0.0.x) with a small receive buffer, upgrades, reads the
    /// greeting.
    async fn connect(relay: SocketAddr, from: &str, rcvbuf: Option<u32>) -> Raw {
        let sock = TcpSocket::new_v4().unwrap();
        if let Some(n) = rcvbuf {
            sock.set_recv_buffer_size(n).unwrap();
        }
        sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let mut tcp = sock.connect(relay).await.unwrap();
        tcp.write_all(
            b"GET /x HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
        let head = read_head(&mut tcp).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let mut raw = Raw {
            tcp,
            id: String::new(),
        };
        let hello = raw.recv_json().await;
        raw.id = hello["clientId"].as_str().unwrap().to_owned();
        raw
    }

    /// Reads one unfragmented server frame; returns (opcode, payload).
    async fn recv_frame(&mut self) -> (u8, Vec<u8>) {
        let mut h = [0u8; 2];
        self.tcp.read_exact(&mut h).await.unwrap();
        let len = match h[1] & 0x7f {
            126 => {
                let mut l = [0u8; 2];
                self.tcp.read_exact(&mut l).await.unwrap();
                u16::from_be_bytes(l) as usize
            }
            127 => {
                let mut l = [0u8; 8];
                self.tcp.read_exact(&mut l).await.unwrap();
                u64::from_be_bytes(l) as usize
            }
            n => n as usize,
        };
        let mut p = vec![0u8; len];
        self.tcp.read_exact(&mut p).await.unwrap();
        (h[0] & 0x0f, p)
    }

    async fn recv_json(&mut self) -> Value {
        loop {
            let (op, p) = tokio::time::timeout(common::WAIT, self.recv_frame())
                .await
                .expect("raw client timed out");
            if op == 1 {
                return serde_json::from_slice(&p).unwrap();
            }
        }
    }

    async fn send_text(&mut self, text: &str) {
        // Client frames are masked; a zero mask leaves the payload as is.
        let b = text.as_bytes();
        let mut f = vec![0x81u8];
        if b.len() < 126 {
            f.push(0x80 | b.len() as u8);
        } else {
            f.push(0x80 | 126);
            f.extend_from_slice(&(b.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend_from_slice(b);
        self.tcp.write_all(&f).await.unwrap();
    }
}

async fn read_head(tcp: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(common::WAIT, tcp.read(&mut byte))
            .await
            .expect("no HTTP answer")
            .unwrap();
        if n == 0 {
            break;
        }
        buf.push(byte[0]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A terminal (normal client) paired with an App that will stop reading.
async fn pair_with_stalled_app(relay: &RelayHandle) -> (Client, Raw) {
    let term = Client::connect(relay, "").await;
    let mut app = Raw::connect(relay.local_addr(), "127.0.0.1", Some(4096)).await;
    let bind = json!({"type":"bind","clientId":term.id,"targetId":app.id,"message":"DGLAB"});
    app.send_text(&bind.to_string()).await;
    assert_eq!(app.recv_json().await["message"], "200");
    let mut term = term;
    assert_eq!(term.recv().await["message"], "200");
    (term, app)
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_burst_of_1000_frames_arrives_whole_and_in_order() {
    let relay = relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    for i in 0..1000 {
        let m = json!({"type":"msg","clientId":t,"targetId":a,"message":format!("n-{i}")});
        term.ws.feed(Message::text(m.to_string())).await.unwrap();
    }
    term.ws.flush().await.unwrap();
    for i in 0..1000 {
        assert_eq!(app.recv().await["message"], format!("n-{i}"), "frame {i}");
    }
    app.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn a_reader_at_full_speed_survives_any_burst_of_its_terminal() {
    let relay = relay().await;
    let (term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    let (mut tx, mut term_rx) = term.ws.split();
    const N: usize = 6000;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            let m = json!({"type":"msg","clientId":t,"targetId":a,"message":big(i)});
            tx.feed(Message::text(m.to_string())).await.unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    for i in 0..N {
        let got = app.recv().await;
        assert_eq!(got["type"], "msg", "frame {i}: {got}");
        assert_eq!(got["message"], big(i), "frame {i}");
    }
    let _tx = writer.await.unwrap();
    // Nothing went wrong for the terminal either: no break, no error.
    assert!(
        tokio::time::timeout(QUIET, term_rx.next()).await.is_err(),
        "the terminal must hear nothing"
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn a_stalled_reader_is_dropped_within_the_ping_timeout_and_its_slot_frees() {
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: Some(Duration::from_millis(200)),
        ping_timeout: Duration::from_millis(800),
        ..RelayConfig::default()
    })
    .await;
    let (term, _stalled) = pair_with_stalled_app(&relay).await;
    let (t, a) = (term.id.clone(), _stalled.id.clone());
    let (mut tx, mut rx) = term.ws.split();
    // Answer pings on the terminal's side while the writer floods the stalled App.
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for i in 0..3000 {
            let m = json!({"type":"msg","clientId":t,"targetId":a,"message":big(i)});
            if tx.send(Message::text(m.to_string())).await.is_err() {
                break;
            }
        }
        tx
    });
    let brk = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match rx.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "break" {
                        return v;
                    }
                    // 402s once the App is gone are fine; anything else is not.
                    assert_eq!(v["message"], "402", "{v}");
                }
                Some(Ok(_)) => {}
                other => panic!("terminal lost: {other:?}"),
            }
        }
    })
    .await
    .expect("no break 209 for the stalled App's partner");
    assert_eq!(brk["message"], "209");
    assert!(start.elapsed() < Duration::from_secs(3));
    // The App's slot is free: only the terminal is left, and it may pair again.
    let deadline = Instant::now() + Duration::from_secs(2);
    while relay.connection_count() != 1 {
        assert!(Instant::now() < deadline, "slot not freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writer.abort();
    relay.shutdown().await;
}

#[tokio::test]
async fn shutdown_with_a_stalled_peer_finishes_within_3_s() {
    let relay = relay().await;
    let (term, stalled) = pair_with_stalled_app(&relay).await;
    let (t, a) = (term.id.clone(), stalled.id.clone());
    let (mut tx, _rx) = term.ws.split();
    let writer = tokio::spawn(async move {
        for i in 0..3000 {
            let m = json!({"type":"msg","clientId":t,"targetId":a,"message":big(i)});
            if tx.send(Message::text(m.to_string())).await.is_err() {
                break;
            }
        }
    });
    // Let the App's buffers fill up so the relay's writer is stuck in a flush.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), relay.shutdown())
        .await
        .expect("shutdown hangs on a stalled peer");
    assert!(start.elapsed() < Duration::from_secs(3));
    writer.abort();
    drop(stalled);
}

#[tokio::test]
async fn a_clients_close_is_answered() {
    let relay = relay().await;
    let mut c = Client::connect(&relay, "").await;
    c.ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let got = tokio::time::timeout(common::WAIT, c.ws.next())
        .await
        .expect("no answer to the close");
    match got {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(f.code, CloseCode::Normal),
        other => panic!("close not answered: {other:?}"),
    }
    relay.shutdown().await;
}

#[tokio::test]
async fn plain_http_gets_a_status_line() {
    let relay = relay().await;
    let mut tcp = TcpStream::connect(relay.local_addr()).await.unwrap();
    // A page request on a WebSocket path (the App's path in a browser); `/` is the phone page.
    tcp.write_all(b"GET /0b6e1c3a HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 426 "), "{head:?}");
    assert!(head.to_ascii_lowercase().contains("upgrade: websocket"));
    let mut tcp = TcpStream::connect(relay.local_addr()).await.unwrap();
    tcp.write_all(b"\x16\x03\x01garbage\r\n\r\n").await.unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head:?}");
    // And the relay still serves WebSockets.
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    term.msg(&t, &a, "clear-1").await;
    assert_eq!(app.recv().await["message"], "clear-1");
    relay.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Third-party clients.

#[tokio::test]
async fn client_msg_accepts_every_frame_a_pulse_msg_carries() {
    let relay = relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    let m = r#"A:["0000000000000000","0A0A0A0A00000000"]"#;
    term.send(
        json!({"type":"clientMsg","channel":"A","time":1,"clientId":t,"targetId":a,"message":m}),
    )
    .await;
    assert_eq!(app.recv().await["message"], format!("pulse-{m}"));
    term.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn two_one_shot_client_msgs_back_to_back_both_go_out_without_a_clear() {
    let relay = relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    let one = r#"A:["0A0A0A0A64646464"]"#;
    let two = r#"A:["0A0A0A0A32323232"]"#;
    for m in [one, two] {
        let f = json!({"type":"clientMsg","channel":"A","time":1,"clientId":t,"targetId":a,"message":m});
        term.ws.feed(Message::text(f.to_string())).await.unwrap();
    }
    term.ws.flush().await.unwrap();
    assert_eq!(app.recv().await["message"], format!("pulse-{one}"));
    assert_eq!(app.recv().await["message"], format!("pulse-{two}"));
    app.silent_for(Duration::from_millis(1300)).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn a_keep_alive_heartbeat_without_target_id_is_accepted_silently() {
    let relay = relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let t = term.id.clone();
    term.send(json!({"type":"heartbeat","clientId":t,"message":"200"}))
        .await;
    term.silent_for(QUIET).await;
    app.silent_for(QUIET).await;
    let mut lone = Client::connect(&relay, "").await;
    let l = lone.id.clone();
    lone.send(json!({"type":"heartbeat","clientId":l,"message":"200"}))
        .await;
    lone.silent_for(QUIET).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn clear_during_a_client_msg_repeat_stops_it() {
    let relay = relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    let one = r#"B:["0A0A0A0A64646464"]"#;
    term.send(
        json!({"type":"clientMsg","channel":"B","time":30,"clientId":t,"targetId":a,"message":one}),
    )
    .await;
    assert_eq!(app.recv().await["message"], format!("pulse-{one}"));
    term.msg(&t, &a, "clear-2").await;
    assert_eq!(app.recv().await["message"], "clear-2");
    app.silent_for(Duration::from_millis(1500)).await;
    // The front-end type 4 clear stops it too.
    term.send(
        json!({"type":"clientMsg","channel":"B","time":30,"clientId":t,"targetId":a,"message":one}),
    )
    .await;
    assert_eq!(app.recv().await["message"], format!("pulse-{one}"));
    term.send(json!({"type":4,"clientId":t,"targetId":a,"message":"clear-2"}))
        .await;
    assert_eq!(app.recv().await["message"], "clear-2");
    app.silent_for(Duration::from_millis(1500)).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn each_code_is_used_for_its_documented_meaning() {
    let relay = relay().await;
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    // 403: not a JSON object, and only that.
    for bad in ["null", "[1]", "{oops", "7"] {
        term.send_raw(Message::text(bad)).await;
        assert_eq!(term.recv().await["message"], "403", "{bad}");
    }
    // 404: a JSON object naming ids the sender does not own (or none at all).
    for obj in [
        json!({"type":"msg","clientId":"a","targetId":"b","message":"m"}),
        json!({"type":"msg","message":"m"}),
        json!({"type":"msg","clientId":1,"targetId":2,"message":"m"}),
        json!({"type":"nope","clientId":"a","targetId":"b","message":"m"}),
    ] {
        term.send(obj.clone()).await;
        let r = term.recv().await;
        assert_eq!(r["message"], "404", "{obj}");
        assert_eq!(r["clientId"], t.as_str(), "{obj}");
    }
    // 402: own ids but not paired with the other.
    let stranger = uuid::Uuid::new_v4().to_string();
    term.send(json!({"type":"msg","clientId":t,"targetId":stranger,"message":"m"}))
        .await;
    assert_eq!(term.recv().await["message"], "402");
    // A paired owner's frame that is a JSON object but not a valid command: never 403,
    // and nothing reaches the App.
    for obj in [
        json!({"type":"msg","clientId":t,"targetId":a}),
        json!({"type":"nope","clientId":t,"targetId":a,"message":"m"}),
        json!({"type":"break","clientId":t,"targetId":a,"message":"209"}),
        json!({"type":3,"clientId":t,"targetId":a,"channel":1,"strength":999,"message":"set channel"}),
    ] {
        term.send(obj.clone()).await;
        let r = term.recv().await;
        assert_ne!(r["message"], "403", "{obj}");
        assert_eq!(r["type"], "error", "{obj}");
        assert!(
            r["message"].as_str().unwrap().starts_with("406-"),
            "{obj}: {r}"
        );
    }
    app.silent_for(QUIET).await;
    relay.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Logging (point 3): what reaches the events the log is written from.

#[tokio::test]
async fn repeated_rejections_are_reported_a_few_times_then_summarised() {
    use dglab_core::relay::RelayEvent;
    let relay = relay().await;
    let mut ev = relay.subscribe();
    let mut c = Client::connect(&relay, "").await;
    for _ in 0..500 {
        c.ws.feed(Message::text("null")).await.unwrap();
    }
    c.ws.flush().await.unwrap();
    // Every frame is still answered on the wire.
    for _ in 0..500 {
        assert_eq!(c.recv().await["message"], "403");
    }
    drop(c);
    let mut one_by_one = 0;
    let mut summaries = Vec::new();
    loop {
        match tokio::time::timeout(common::WAIT, ev.recv()).await.unwrap() {
            Ok(RelayEvent::Rejected { reason, code, .. }) => {
                assert_eq!(code.as_u16(), 403);
                if reason.contains("not reported one by one") {
                    summaries.push(reason);
                } else {
                    one_by_one += 1;
                }
            }
            Ok(RelayEvent::Disconnected { .. }) => break,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        one_by_one <= 10,
        "{one_by_one} rejections reported one by one"
    );
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert!(
        summaries[0].starts_with(&format!("{} more", 500 - one_by_one)),
        "{summaries:?}"
    );
    relay.shutdown().await;
}

#[tokio::test]
async fn peer_text_reaches_events_escaped_and_cut_short() {
    use dglab_core::relay::RelayEvent;
    let relay = relay().await;
    let mut ev = relay.subscribe();
    let (mut term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    let forged = format!(
        "x\n2026-12-02T07:00:00.000Z INFO  bind App {a} to terminal {t}: 200 paired{}",
        "y".repeat(5000)
    );
    app.send(json!({"type":"bind","clientId":forged,"targetId":a,"message":"DGLAB"}))
        .await;
    app.recv().await;
    term.msg(&t, &a, "line one\nline two\u{202e}").await;
    app.recv().await;
    let (mut bind_seen, mut msg_seen) = (false, false);
    while !(bind_seen && msg_seen) {
        match tokio::time::timeout(common::WAIT, ev.recv()).await.unwrap() {
            Ok(RelayEvent::BindAttempt { client_id, .. }) if client_id.starts_with("x\\n") => {
                assert!(!client_id.contains('\n'));
                assert!(client_id.chars().count() < 100, "{client_id}");
                bind_seen = true;
            }
            Ok(RelayEvent::Relayed { message, .. }) => {
                assert_eq!(&*message, "line one\\nline two\\u{202e}");
                msg_seen = true;
            }
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_flooding_a_slow_app_is_not_dropped_for_its_pongs_waiting_behind_its_frames() {
    // The terminal's pongs queue up behind its own flood, which the relay reads only as
    // fast as the App drains: that is the relay pacing it, not the terminal going silent.
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: Some(Duration::from_millis(100)),
        ping_timeout: Duration::from_millis(600),
        ..RelayConfig::default()
    })
    .await;
    let mut ev = relay.subscribe();
    let mut term = Client::connect(&relay, "").await;
    // A phone-sized receive buffer: what waits for the App is mostly in the relay's hands.
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(16 * 1024).unwrap();
    let tcp = sock.connect(relay.local_addr()).await.unwrap();
    let url = format!("ws://{}/{}", relay.local_addr(), term.id);
    let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
        .await
        .unwrap();
    let mut app = Client {
        ws,
        id: String::new(),
    };
    app.id = app.recv().await["clientId"].as_str().unwrap().to_owned();
    let (t, a) = (term.id.clone(), app.id.clone());
    app.send(json!({"type":"bind","clientId":t,"targetId":a,"message":"DGLAB"}))
        .await;
    assert_eq!(app.recv().await["message"], "200");
    assert_eq!(term.recv().await["message"], "200");
    let (mut tx, mut term_rx) = term.ws.split();
    const N: usize = 3000;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            let m = json!({"type":"msg","clientId":t,"targetId":a,"message":big(i)});
            tx.feed(Message::text(m.to_string())).await.unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    // The terminal keeps reading (and so answering pings) on its side.
    let term_reader = tokio::spawn(async move {
        while let Some(Ok(m)) = term_rx.next().await {
            if let Message::Text(t) = m {
                panic!("the terminal got {t}");
            }
        }
    });
    // A slow App: about 6 s for the whole flood, answering pings as it reads.
    for i in 0..N {
        let got = app.recv().await;
        assert_eq!(got["message"], big(i), "frame {i}");
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let _tx = writer.await.unwrap();
    assert!(!term_reader.is_finished(), "the terminal was disconnected");
    while let Ok(e) = ev.try_recv() {
        assert!(
            !matches!(e, dglab_core::relay::RelayEvent::Disconnected { .. }),
            "{e:?}"
        );
    }
    term_reader.abort();
    relay.shutdown().await;
}
