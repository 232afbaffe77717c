//! The `dglab-relay` binary, run for real on 127.0.0.1: startup line, pairing with a
//! simulated App, bind errors, argument errors, a clean exit on SIGTERM, and the local
//! terminal's emergency stop on SIGTERM.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_dglab-relay");
const WAIT: Duration = Duration::from_secs(10);

/// A running `dglab-relay`, killed if the test fails before it exits.
struct Relay {
    child: Child,
    /// Every line of stdout and stderr, as they come.
    lines: mpsc::UnboundedReceiver<String>,
    /// Lines seen so far, for failure messages.
    seen: Vec<String>,
}

impl Relay {
    fn spawn(args: &[&str]) -> Relay {
        let mut child = Command::new(BIN)
            .args(args)
            .env("DGLAB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dglab-relay");
        let (tx, lines) = mpsc::unbounded_channel();
        forward(child.stdout.take().unwrap(), tx.clone());
        forward(child.stderr.take().unwrap(), tx);
        Relay {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// A line containing `needle`, already printed or still to come. Already printed
    /// counts because the relay's and the terminal's events are two streams whose lines
    /// may interleave either way.
    async fn line_with(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                _ => panic!(
                    "no line with {needle:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The port from the startup line `… listening on 127.0.0.1:PORT (…)`.
    async fn port(&mut self) -> u16 {
        let line = self.line_with("listening on ").await;
        let addr = line.split("listening on ").nth(1).unwrap();
        let addr = addr
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches(',');
        addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn wait(&mut self) -> ExitStatus {
        wait_timeout(&mut self.child)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(pipe: impl Read + Send + 'static, tx: mpsc::UnboundedSender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
}

fn wait_timeout(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "dglab-relay did not exit in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary to completion: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_timeout(&mut child);
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), out, err)
}

/// A port that was free a moment ago. The binary must be told a port before it starts
/// when the pairing URL names it; the OS rarely reuses a just-closed port that quickly.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A terminal joins at `terminal_base`, an App joins at `app_base` with the terminal's id
/// and binds: both hear 200. Returns (terminal, its id, App, its id).
async fn pair(terminal_base: &str, app_base: &str) -> (Ws, String, Ws, String) {
    let (mut term, _) = tokio_tungstenite::connect_async(format!("{terminal_base}/"))
        .await
        .unwrap();
    let term_id = recv_json(&mut term).await["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut app, _) = tokio_tungstenite::connect_async(format!("{app_base}/{term_id}"))
        .await
        .unwrap();
    let app_id = recv_json(&mut app).await["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    send_json(
        &mut app,
        json!({"type": "bind", "clientId": term_id, "targetId": app_id, "message": "DGLAB"}),
    )
    .await;
    assert_eq!(recv_json(&mut app).await["message"], "200");
    assert_eq!(recv_json(&mut term).await["message"], "200");
    (term, term_id, app, app_id)
}

/// Every frame `ws` gets until its socket closes (or `WAIT` passes): the `msg` payloads, the
/// other frames, and whether it closed.
async fn until_closed(ws: &mut Ws) -> (Vec<String>, Vec<Value>, bool) {
    let mut msgs = Vec::new();
    let mut others = Vec::new();
    let end = tokio::time::timeout(WAIT, async {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "msg" {
                        msgs.push(v["message"].as_str().unwrap().to_owned());
                    } else {
                        others.push(v);
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    })
    .await;
    (msgs, others, end.is_ok())
}

async fn recv_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("socket closed")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

async fn send_json(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

#[tokio::test]
async fn port_0_prints_the_real_port_and_serves_websockets() {
    let mut relay = Relay::spawn(&["serve", "--host", "127.0.0.1", "--port", "0"]);
    let port = relay.port().await;
    assert_ne!(port, 0);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}"))
        .await
        .unwrap();
    let hello = recv_json(&mut ws).await;
    assert_eq!(hello["type"], "bind");
    assert_eq!(hello["message"], "targetId");
    relay.line_with("connected ").await;
}

/// `--host` twice: one relay on IPv4 and IPv6 loopback at once, same port, and a terminal
/// on one pairs with an App on the other.
#[tokio::test]
async fn several_hosts_serve_one_relay() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipping");
        return;
    }
    let mut relay = Relay::spawn(&[
        "serve",
        "--host",
        "127.0.0.1",
        "--host",
        "::1",
        "--port",
        "0",
    ]);
    let port = relay.port().await;
    pair(
        &format!("ws://127.0.0.1:{port}"),
        &format!("ws://[::1]:{port}"),
    )
    .await;
}

#[tokio::test]
async fn local_terminal_pairs_with_an_app_and_logs_its_reports() {
    let port = free_port();
    let public = format!("ws://127.0.0.1:{port}");
    let port_arg = port.to_string();
    let mut relay = Relay::spawn(&[
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        &port_arg,
        "--heartbeat",
        "0",
        "--local-terminal",
        "--public-url",
        &public,
    ]);
    let line = relay.line_with("Pairing URL: ").await;
    let url = line.trim_start_matches("Pairing URL: ");
    let marker = format!("#DGLAB-SOCKET#{public}/");
    let terminal_id = url
        .split_once(&marker)
        .unwrap_or_else(|| panic!("{url}"))
        .1
        .to_owned();
    assert_eq!(terminal_id.len(), 36, "{url}");

    // The App connects to the address in the QR code, id included, and binds.
    let (mut app, _) = tokio_tungstenite::connect_async(format!("{public}/{terminal_id}"))
        .await
        .unwrap();
    let hello = recv_json(&mut app).await;
    let app_id = hello["clientId"].as_str().unwrap().to_owned();
    send_json(
        &mut app,
        json!({"type": "bind", "clientId": terminal_id, "targetId": app_id, "message": "DGLAB"}),
    )
    .await;
    let answer = recv_json(&mut app).await;
    assert_eq!(answer["message"], "200", "{answer}");
    relay.line_with(": 200 paired").await;
    relay
        .line_with(&format!("App {app_id} paired with the local terminal"))
        .await;

    let msg =
        |m: &str| json!({"type": "msg", "clientId": terminal_id, "targetId": app_id, "message": m});
    send_json(&mut app, msg("strength-5+0+100+100")).await;
    relay
        .line_with("App strength: A 5 (limit 100), B 0 (limit 100)")
        .await;
    send_json(&mut app, msg("feedback-7")).await;
    relay
        .line_with("App feedback: channel B □ (button 7)")
        .await;

    app.close(None).await.unwrap();
    relay.line_with(&format!("App {app_id} left")).await;
}

#[test]
fn busy_port_is_one_line_and_exit_2() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, out, err) = run(&["serve", "--host", "127.0.0.1", "--port", &port]);
    assert_eq!(code, Some(2));
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("error: port {port} is already in use; choose another with --port <N>\n")
    );
}

/// Usage errors are clap's: `error: …` on stderr, then the usage or a pointer to
/// `--help`, exit code 2, nothing on stdout.
#[test]
fn bad_arguments_print_the_usage_and_exit_2() {
    let (code, out, err) = run(&["serve", "--bogus"]);
    assert_eq!(code, Some(2));
    assert_eq!(out, "");
    assert!(
        err.starts_with("error: unexpected argument '--bogus' found\n"),
        "{err}"
    );
    assert!(err.contains("Usage: dglab-relay serve"), "{err}");

    let (code, out, err) = run(&["serve", "--port", "99999"]);
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert!(
        err.starts_with(
            "error: invalid value '99999' for '--port <N>': 99999 is not in 0..=65535\n"
        ),
        "{err}"
    );
    assert!(err.contains("try '--help'"), "{err}");

    let (code, out, err) = run(&[]);
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert!(err.contains("Usage: dglab-relay <COMMAND>"), "{err}");
}

#[test]
fn bad_safety_flags_print_the_usage_and_exit_2() {
    let (code, out, err) = run(&["serve", "--local-terminal", "--cap-a", "201"]);
    assert_eq!(code, Some(2));
    assert_eq!(out, "");
    assert!(
        err.starts_with(
            "error: invalid value '201' for '--cap-a <N>': expected a strength 0..=200\n"
        ),
        "{err}"
    );
    assert!(err.contains("try '--help'"), "{err}");

    let (code, _, err) = run(&["serve", "--local-terminal", "--cap-b=x"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("for '--cap-b <N>': expected a strength 0..=200"),
        "{err}"
    );

    let (code, _, err) = run(&["serve", "--local-terminal", "--max-rise-per-sec", "0"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("for '--max-rise-per-sec <N>': expected strength units per second 1..=200"),
        "{err}"
    );
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    let (code, out, err) = run(&["serve", "--help"]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    assert!(out.contains("--heartbeat <SECS>"), "{out}");
    for flag in ["--cap-a <N>", "--cap-b <N>", "--max-rise-per-sec <N>"] {
        assert!(out.contains(flag), "{out}");
    }
    for args in [&["--version"][..], &["serve", "-V"]] {
        let (code, out, _) = run(args);
        assert_eq!(code, Some(0));
        assert_eq!(out, format!("dglab-relay {}\n", env!("CARGO_PKG_VERSION")));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let mut relay = Relay::spawn(&["serve", "--host", "127.0.0.1", "--port", "0"]);
    let port = relay.port().await;
    // A connected client must not keep the relay from stopping.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}"))
        .await
        .unwrap();
    recv_json(&mut ws).await;
    relay.line_with("connected ").await;

    let pid = relay.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    relay.line_with("SIGTERM: shutting down").await;
    relay.line_with("relay stopped").await;
    let status = relay.wait();
    assert_eq!(status.code(), Some(0), "{status:?}");
    // The client sees its socket close rather than hang.
    let end = tokio::time::timeout(WAIT, async {
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(end.is_ok());
}

#[test]
fn wave_frames_prints_the_expansion_as_one_json_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dglab-relay"))
        .args([
            "wave",
            "frames",
            "Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,100-1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim_end().lines().count(), 1);
    let frames: Vec<String> = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(frames, ["0A0A0A0A00000000", "0A0A0A0A64646464"]);
}

#[test]
fn wave_check_reports_a_parse_error_with_exit_code_1() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dglab-relay"))
        .args(["wave", "check", "Dungeonlab+pulse:"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stderr.is_empty() || !out.stdout.is_empty());
}

/// SIGTERM with a paired App: the local terminal's emergency stop reaches the App (both
/// channels to 0, both queues cleared) before its socket closes.
#[cfg(unix)]
#[tokio::test]
async fn sigterm_sets_the_local_terminals_app_to_0_before_closing() {
    a_signal_sets_the_local_terminals_app_to_0_before_closing("TERM").await;
}

#[tokio::test]
async fn sighup_and_sigint_stop_the_app_too() {
    a_signal_sets_the_local_terminals_app_to_0_before_closing("HUP").await;
    a_signal_sets_the_local_terminals_app_to_0_before_closing("INT").await;
}

/// `kill -<signal>` with an App paired: it gets 0/0/clear/clear before its socket closes,
/// and the relay exits 0.
async fn a_signal_sets_the_local_terminals_app_to_0_before_closing(signal: &str) {
    let port = free_port();
    let public = format!("ws://127.0.0.1:{port}");
    let port_arg = port.to_string();
    let mut relay = Relay::spawn(&[
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        &port_arg,
        "--heartbeat",
        "0",
        "--local-terminal",
        "--cap-a",
        "5",
        "--public-url",
        &public,
    ]);
    let line = relay.line_with("listening on ").await;
    assert!(
        line.contains("every App capped at A 5, B 40, rising at most 10/s, and stopped on exit"),
        "{line}"
    );
    let line = relay.line_with("Pairing URL: ").await;
    let terminal_id = line.rsplit('/').next().unwrap().to_owned();
    let (mut app, _) = tokio_tungstenite::connect_async(format!("{public}/{terminal_id}"))
        .await
        .unwrap();
    let hello = recv_json(&mut app).await;
    let app_id = hello["clientId"].as_str().unwrap().to_owned();
    send_json(
        &mut app,
        json!({"type": "bind", "clientId": terminal_id, "targetId": app_id, "message": "DGLAB"}),
    )
    .await;
    assert_eq!(recv_json(&mut app).await["message"], "200");
    relay
        .line_with(&format!("App {app_id} paired with the local terminal"))
        .await;

    // The pairing itself starts the App at 0 with empty queues.
    for want in ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"] {
        assert_eq!(recv_json(&mut app).await["message"], want);
    }

    let pid = relay.child.id().to_string();
    let killed = Command::new("kill")
        .args([format!("-{signal}").as_str(), &pid])
        .status()
        .unwrap();
    assert!(killed.success());

    // Everything the App gets until its socket closes.
    let (msgs, others, closed) = until_closed(&mut app).await;
    assert!(closed, "the App's socket did not close");
    assert_eq!(
        msgs,
        ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"],
        "other frames: {others:?}"
    );
    relay
        .line_with("safety: emergency stop: 1 App set to 0 with both queues cleared")
        .await;
    relay.line_with("relay stopped").await;
    assert_eq!(relay.wait().code(), Some(0));
}

/// `serve --cap-a 5` without a local terminal: the cap binds what any terminal sends to its
/// App, and SIGTERM stops that App before the relay closes.
#[tokio::test]
async fn a_cap_on_the_headless_relay_binds_every_terminal_and_sigterm_stops_their_apps() {
    let port = free_port();
    let port_arg = port.to_string();
    let mut relay = Relay::spawn(&[
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        &port_arg,
        "--heartbeat",
        "0",
        "--cap-a",
        "5",
        "--max-rise-per-sec",
        "200",
    ]);
    let line = relay.line_with("listening on ").await;
    assert!(line.contains("every App capped at A 5"), "{line}");
    let base = format!("ws://127.0.0.1:{port}");
    let (mut term, term_id, mut app, app_id) = pair(&base, &base).await;
    let mut seen = vec![];
    for _ in 0..7 {
        send_json(
            &mut term,
            json!({"type": "msg", "clientId": term_id, "targetId": app_id, "message": "strength-1+2+150"}),
        )
        .await;
        seen.push(
            recv_json(&mut app).await["message"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen.last().unwrap(), "strength-1+2+5", "{seen:?}");
    assert!(seen
        .iter()
        .all(|m| m.rsplit('+').next().unwrap().parse::<u8>().unwrap() <= 5));

    let pid = relay.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let (msgs, _, _) = until_closed(&mut app).await;
    assert_eq!(
        msgs,
        ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"]
    );
    assert_eq!(relay.wait().code(), Some(0));
}
