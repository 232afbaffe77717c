//! `dglab-relay doctor` run for real, on 127.0.0.1 only (`--address 127.0.0.1`, and
//! `--host 127.0.0.1` for its temporary relay): a temporary relay when nothing listens,
//! the running relay when one does (which logs the doctor's visit), another server on the
//! port, and the JSON form.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_dglab-relay");
const WAIT: Duration = Duration::from_secs(20);

fn doctor(args: &[&str]) -> Output {
    let mut all = vec!["doctor", "--address", "127.0.0.1"];
    all.extend_from_slice(args);
    Command::new(BIN)
        .args(&all)
        .stdin(Stdio::null())
        .output()
        .expect("run dglab-relay doctor")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn with_nothing_listening_it_tests_a_temporary_relay() {
    let out = doctor(&[
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--public-url",
        "wss://relay.example.org/dglab",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("started a temporary relay on 127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("127.0.0.1 on lo (loopback)"), "{text}");
    assert!(
        text.contains("self-test: listening here (the phone page answered in"),
        "{text}"
    );
    assert!(text.contains("firewall (port "), "{text}");
    assert!(
        text.contains("open https://relay.example.org/dglab/check in the phone's browser"),
        "{text}"
    );
    assert!(text.contains("the named address(es) answer"), "{text}");
    // The temporary relay is gone with the doctor: its port is free again.
    let port: u16 = text
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("port in the first line");
    TcpListener::bind(("127.0.0.1", port)).expect("the temporary relay still holds its port");
}

#[test]
fn json_is_the_same_findings_as_data() {
    let out = doctor(&["--host", "127.0.0.1", "--port", "0", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["relay"], "temporary");
    assert_eq!(v["ok"], true);
    let a = &v["report"]["addresses"][0];
    assert_eq!(a["addr"], "127.0.0.1");
    assert_eq!(a["kind"], "loopback");
    assert_eq!(a["phone_usable"], false);
    assert_eq!(a["reasons"][0]["kind"], "loopback_only");
    assert_eq!(a["self_test"]["kind"], "listening");
    assert!(a["check_url"].as_str().unwrap().ends_with("/check"));
    assert!(v["report"]["firewall"]["verdict"].is_string());
}

/// A `dglab-relay serve` on 127.0.0.1, its log lines forwarded.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Serve {
    fn start() -> (Serve, u16) {
        let mut child = Command::new(BIN)
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .env("DGLAB_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dglab-relay serve");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut serve = Serve { child, lines };
        let line = serve.line_with("listening on ");
        let port = line
            .rsplit("127.0.0.1:")
            .next()
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .expect("port in the startup line");
        (serve, port)
    }

    fn line_with(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line with {needle:?}"),
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn with_a_relay_running_it_tests_that_one_and_the_relay_sees_the_visit() {
    let (mut serve, port) = Serve::start();
    let out = doctor(&["--port", &port.to_string(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["relay"], "running");
    assert_eq!(v["report"]["port"], port);
    assert_eq!(
        v["report"]["addresses"][0]["self_test"]["kind"],
        "listening"
    );
    // The relay's own log: the phone page went to the doctor.
    let line = serve.line_with("phone check page served to 127.0.0.1:");
    assert!(line.contains("(dglab-doctor)"), "{line}");
}

#[test]
fn another_server_on_the_port_is_named_and_fails() {
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = other.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Two connections: the doctor's probe, then its self-test.
        for stream in other.incoming().take(2) {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let out = doctor(&["--port", &port.to_string()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("testing the relay already running on port"),
        "{text}"
    );
    assert!(
        text.contains("another server answers on this port (HTTP 404), not DG-LAB Hub"),
        "{text}"
    );
    assert!(text.contains("a named address does not answer"), "{text}");
}
