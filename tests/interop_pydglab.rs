//! Our relay against PyDGLab-WS, the third-party Python implementation of the protocol.
//!
//! `pydglab_terminal_against_our_relay` starts the relay on a real loopback socket and runs
//! `tests/interop/pydglab_terminal.py` with the pinned `.venv` (scripts/python-env.sh): the
//! terminal there is PyDGLab-WS's own client, so a wire difference between us and the
//! library that real users run fails this test. A missing venv FAILS the test (a silent
//! skip would let interop rot); set `DGLAB_SKIP_INTEROP=1` to skip it on purpose.
//!
//! The stranger tests need no Python: they pin down that our relay closes the hole in
//! PyDGLab-WS's `DGLabWSServer`, which checks ownership of ids, sends its 404 to nobody
//! and then binds anyway — so any socket can pair itself with any App it knows the id of.

use dglab_core::relay::{self, RelayConfig, RelayHandle};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Loopback only, so anything slower than this is a hang, not a slow network.
const STEP: Duration = Duration::from_secs(5);
/// The Python script bounds itself at 60 s; this only catches an interpreter that hangs.
const SCRIPT_LIMIT: Duration = Duration::from_secs(90);

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

async fn start_relay() -> RelayHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // No heartbeats or pings: they would only add frames the checks must skip.
    let config = RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        ..RelayConfig::default()
    };
    relay::start(listener, config).unwrap()
}

/// The venv's interpreter, or a failure that says how to make one.
fn venv_python() -> Option<PathBuf> {
    if std::env::var("DGLAB_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!("DGLAB_SKIP_INTEROP=1: skipping the PyDGLab-WS interop test");
        return None;
    }
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-env.sh to install the pinned PyDGLab-WS \
         (or set DGLAB_SKIP_INTEROP=1 to skip this test on purpose)",
        python.display()
    );
    Some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pydglab_terminal_against_our_relay() {
    let Some(python) = venv_python() else { return };
    let relay = start_relay().await;
    let url = format!("ws://{}", relay.local_addr());
    let script = repo_root().join("tests/interop/pydglab_terminal.py");

    let mut child = Command::new(&python)
        .arg(&script)
        .arg(&url)
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    // Polled rather than waited on in a blocking call, so the relay's runtime keeps
    // serving the script meanwhile. The script prints a few kB at most: the pipes
    // cannot fill up and block it before it exits.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > SCRIPT_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not finish within {SCRIPT_LIMIT:?}",
                script.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    if !stderr.is_empty() {
        println!("--- stderr ---\n{stderr}");
    }
    let passed = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        status.success() && failed.is_empty(),
        "PyDGLab-WS interop failed ({status}): {failed:#?}"
    );
    // Guards against a script that exits 0 having checked nothing.
    assert!(passed >= 19, "only {passed} checks ran:\n{stdout}");
    relay.shutdown().await;
}

// ---- the stranger hole ----------------------------------------------------------------

async fn connect(url: &str) -> (Ws, String) {
    let (mut ws, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
        .expect("connect failed");
    let greeting = recv(&mut ws).await;
    assert_eq!(greeting["type"], "bind", "{greeting}");
    assert_eq!(greeting["message"], "targetId", "{greeting}");
    let id = greeting["clientId"].as_str().unwrap().to_owned();
    (ws, id)
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(STEP, ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("socket closed")
            .expect("read error");
        if let Message::Text(t) = frame {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Nothing but silence (or heartbeats, which are off here) for `wait`.
async fn assert_silent(ws: &mut Ws, wait: Duration, who: &str) {
    if let Ok(Some(Ok(frame))) = tokio::time::timeout(wait, ws.next()).await {
        panic!("{who} received {frame:?}, expected nothing");
    }
}

async fn send(ws: &mut Ws, kind: &str, client_id: &str, target_id: &str, message: &str) {
    let frame =
        json!({"type": kind, "clientId": client_id, "targetId": target_id, "message": message});
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

#[tokio::test]
async fn stranger_cannot_pair_with_or_drive_an_app() {
    let relay = start_relay().await;
    let url = format!("ws://{}", relay.local_addr());
    let quiet = Duration::from_millis(300);

    // The victim App has connected (its id may leak: it is in every frame it exchanges)
    // but has not scanned anything yet.
    let (mut victim, victim_id) =
        connect(&format!("{url}/00000000-0000-4000-8000-000000000000")).await;
    let (mut stranger, stranger_id) = connect(&url).await;

    // PyDGLab-WS's server pairs this: the stranger names itself as terminal and the victim
    // as App. Ours must refuse, because the stranger does not own targetId.
    send(&mut stranger, "bind", &stranger_id, &victim_id, "DGLAB").await;
    let answer = recv(&mut stranger).await;
    assert_eq!(
        answer["message"], "404",
        "stranger's bind must be refused: {answer}"
    );
    assert_silent(&mut victim, quiet, "victim after the stranger's bind").await;

    // Nor may it drive the victim, in either role.
    send(
        &mut stranger,
        "msg",
        &stranger_id,
        &victim_id,
        "strength-1+2+200",
    )
    .await;
    let answer = recv(&mut stranger).await;
    assert_ne!(answer["message"], "200", "{answer}");
    assert_silent(&mut victim, quiet, "victim after the stranger's msg").await;

    // The victim is still free: it pairs with the terminal it really scanned.
    let (mut terminal, terminal_id) = connect(&url).await;
    send(&mut victim, "bind", &terminal_id, &victim_id, "DGLAB").await;
    assert_eq!(recv(&mut victim).await["message"], "200");
    assert_eq!(recv(&mut terminal).await["message"], "200");
    let pair = relay
        .snapshot()
        .into_iter()
        .find(|c| c.id.to_string() == victim_id)
        .and_then(|c| c.paired_with);
    assert_eq!(pair.map(|p| p.to_string()), Some(terminal_id.clone()));

    // Once it is paired, the stranger can neither impersonate its terminal...
    send(
        &mut stranger,
        "msg",
        &terminal_id,
        &victim_id,
        "strength-1+2+200",
    )
    .await;
    let answer = recv(&mut stranger).await;
    assert_eq!(answer["message"], "404", "{answer}");
    // ...nor steal the pairing by binding to the terminal as itself...
    send(&mut stranger, "bind", &terminal_id, &stranger_id, "DGLAB").await;
    let answer = recv(&mut stranger).await;
    assert_eq!(answer["message"], "400", "{answer}");
    // ...nor pose as the App towards the terminal.
    send(&mut stranger, "msg", &terminal_id, &victim_id, "feedback-0").await;
    let answer = recv(&mut stranger).await;
    assert_eq!(answer["message"], "404", "{answer}");
    assert_silent(&mut victim, quiet, "victim after impersonation").await;
    assert_silent(&mut terminal, quiet, "terminal after impersonation").await;

    // The real pair is untouched.
    send(
        &mut terminal,
        "msg",
        &terminal_id,
        &victim_id,
        "strength-1+2+5",
    )
    .await;
    let got = recv(&mut victim).await;
    assert_eq!(got["message"], "strength-1+2+5", "{got}");
    assert_eq!(got["clientId"], terminal_id.as_str());
    relay.shutdown().await;
}

/// docs/protocol.md's code table sends 404 with type `msg`, also when the frame was a bind
/// naming ids the sender does not own; the reply carries the stranger's own id.
#[tokio::test]
async fn stranger_bind_404_has_the_protocol_type() {
    let relay = start_relay().await;
    let url = format!("ws://{}", relay.local_addr());
    let (_victim, victim_id) = connect(&url).await;
    let (mut stranger, stranger_id) = connect(&url).await;
    send(&mut stranger, "bind", &stranger_id, &victim_id, "DGLAB").await;
    let answer = recv(&mut stranger).await;
    assert_eq!(answer["message"], "404", "{answer}");
    assert_eq!(answer["type"], "msg", "{answer}");
    assert_eq!(answer["clientId"], stranger_id.as_str(), "{answer}");
    relay.shutdown().await;
}
