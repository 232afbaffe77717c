//! The protocol inspector over real sockets on 127.0.0.1: a pairing and a pulse show up in
//! order with their meanings, refusals too, nothing is built while nobody watches, and
//! `dglab-relay serve --inspect` prints the same as JSON lines.

mod common;

use dglab_core::protocol::describe::Meaning;
use dglab_core::relay::{Direction, InspectRecord, InspectStream, Role};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const PULSE: &str =
    r#"pulse-B:["0A0A0A0A00000000","0A0A0A0A64646464","0A0A0A0A64646464","0A0A0A0A00000000"]"#;

async fn next(stream: &mut InspectStream) -> InspectRecord {
    tokio::time::timeout(common::WAIT, stream.recv())
        .await
        .expect("no inspector record")
        .expect("relay gone")
}

fn id(s: &str) -> Option<Uuid> {
    Some(Uuid::parse_str(s).unwrap())
}

#[tokio::test]
async fn a_pairing_and_a_pulse_show_up_in_order_with_their_meanings() {
    let relay = common::start_relay().await;
    let mut watch = relay.inspect();
    let (mut term, app) = common::pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    term.msg(&t, &a, PULSE).await;

    let mut seen = vec![];
    for _ in 0..7 {
        let r = next(&mut watch).await;
        seen.push((r.direction, r.connection, r.role, r.meaning.clone(), r.text));
    }
    let pulse = Meaning::Pulse {
        channel: "B",
        frames: 4,
        ms: 400,
    };
    let expected = [
        (
            Direction::Out,
            id(&t),
            Role::Unknown,
            Meaning::IdAssigned { id: t.clone() },
            format!("relay assigns id {t}"),
        ),
        (
            Direction::Out,
            id(&a),
            Role::Unknown,
            Meaning::IdAssigned { id: a.clone() },
            format!("relay assigns id {a}"),
        ),
        (
            Direction::In,
            id(&a),
            Role::Unknown,
            Meaning::BindRequest {
                terminal: t.clone(),
                app: a.clone(),
            },
            format!("App {a} asks to pair with terminal {t}"),
        ),
        (
            Direction::Out,
            id(&t),
            Role::Terminal,
            Meaning::Paired {
                terminal: t.clone(),
                app: a.clone(),
            },
            format!("paired: terminal {t} with App {a}"),
        ),
        (
            Direction::Out,
            id(&a),
            Role::App,
            Meaning::Paired {
                terminal: t.clone(),
                app: a.clone(),
            },
            format!("paired: terminal {t} with App {a}"),
        ),
        (
            Direction::In,
            id(&t),
            Role::Terminal,
            pulse.clone(),
            "pulse B: 4 frames, 400 ms".to_owned(),
        ),
        (
            Direction::Out,
            id(&a),
            Role::App,
            pulse,
            "pulse B: 4 frames, 400 ms".to_owned(),
        ),
    ];
    assert_eq!(seen, expected);
    assert_eq!(watch.lost(), 0);
    relay.shutdown().await;
}

#[tokio::test]
async fn refusals_are_recorded_with_their_reason() {
    let relay = common::start_relay().await;
    let mut watch = relay.inspect();
    // A bind naming a terminal that is not connected.
    let mut app = common::Client::connect(&relay, "x").await;
    let ghost = Uuid::new_v4().to_string();
    let a = app.id.clone();
    app.send(json!({"type":"bind","clientId":ghost,"targetId":a,"message":"DGLAB"}))
        .await;
    assert_eq!(app.recv().await["message"], "401");
    let texts: Vec<String> = [
        next(&mut watch).await,
        next(&mut watch).await,
        next(&mut watch).await,
    ]
    .into_iter()
    .map(|r| r.text)
    .collect();
    assert_eq!(texts[2], "bind refused: 401 the terminal is not connected");
    // A phone's browser on the App's WebSocket path: refused, no connection.
    let mut tcp = tokio::net::TcpStream::connect(relay.local_addr())
        .await
        .unwrap();
    tcp.write_all(b"GET /some-terminal-id HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![];
    let _ = tcp.read_to_end(&mut answer).await;
    let r = next(&mut watch).await;
    assert_eq!(r.direction, Direction::Refused);
    assert_eq!(r.connection, None);
    assert_eq!(r.raw, "GET /some-terminal-id");
    assert_eq!(
        r.meaning,
        Meaning::HttpRefused {
            status: 426,
            path: "/some-terminal-id".into()
        }
    );
    // The window's export: one JSON object per record, meaning as kind + params.
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["direction"], "refused");
    assert_eq!(v["meaning"]["kind"], "http_refused");
    assert_eq!(v["meaning"]["params"]["status"], 426);
    assert!(v["time_ms"].as_u64().unwrap() > 1_700_000_000_000);
    relay.shutdown().await;
}

#[tokio::test]
async fn nobody_watching_means_no_records_are_built() {
    let relay = common::start_relay().await;
    let (mut term, mut app) = common::pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    term.msg(&t, &a, PULSE).await;
    app.recv().await;
    assert_eq!(relay.inspected_records(), 0);

    let mut watch = relay.inspect();
    term.msg(&t, &a, "clear-1").await;
    app.recv().await;
    assert_eq!(next(&mut watch).await.text, "clear A's waveform queue");
    let made = relay.inspected_records();
    assert_eq!(made, 2, "one record in, one out");

    drop(watch);
    term.msg(&t, &a, "clear-2").await;
    app.recv().await;
    assert_eq!(relay.inspected_records(), made);
    relay.shutdown().await;
}

#[tokio::test]
async fn serve_inspect_prints_json_lines_on_stdout() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dglab-relay"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--inspect"])
        .env("DGLAB_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let port = tokio::task::spawn_blocking(move || {
        let mut lines = stderr.lines().map_while(Result::ok);
        let port = lines.by_ref().find_map(|line| {
            let rest = line.split("listening on 127.0.0.1:").nth(1)?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u16>().ok()
        });
        // Keep draining the log, so the relay never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        port
    })
    .await
    .unwrap()
    .expect("startup line");
    let url = format!("ws://127.0.0.1:{port}/x");
    let (_ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let first = tokio::time::timeout(
        common::WAIT,
        tokio::task::spawn_blocking(move || stdout.lines().map_while(Result::ok).next()),
    )
    .await
    .expect("no JSON line")
    .unwrap()
    .expect("stdout closed");
    let _ = child.kill();
    let _ = child.wait();
    let v: Value = serde_json::from_str(&first).expect("a JSON line");
    assert_eq!(v["direction"], "out");
    assert_eq!(v["meaning"]["kind"], "id_assigned");
    assert!(v["text"].as_str().unwrap().starts_with("relay assigns id "));
}

#[tokio::test]
async fn a_local_terminal_is_inspected_like_a_socket() {
    // The window's own terminal lives in the process: its frames have no socket text.
    let relay = common::start_relay().await;
    let (term, _events) = dglab_core::Terminal::local(&relay);
    let t = term.id().to_string();
    let mut app = common::Client::connect(&relay, &t).await;
    let a = app.id.clone();
    let mut watch = relay.inspect();
    app.send(json!({"type":"bind","clientId":t,"targetId":a,"message":"DGLAB"}))
        .await;
    assert_eq!(app.recv().await["message"], "200");
    term.set_strength(dglab_core::protocol::command::Channel::A, 20)
        .unwrap();
    assert_eq!(app.recv().await["message"], "strength-1+2+20");
    let mut texts = vec![];
    for _ in 0..5 {
        let r = next(&mut watch).await;
        texts.push((r.direction, r.role, r.text));
    }
    assert_eq!(
        texts[3],
        (Direction::In, Role::Local, "A set to 20".to_owned())
    );
    assert_eq!(
        texts[4],
        (Direction::Out, Role::App, "A set to 20".to_owned())
    );
    relay.shutdown().await;
}
