//! Issue 11: `dglab-relay serve` stops on SIGTERM with exit code 0 within 3 s even when a
//! paired App has stopped reading (its writer used to sit in a flush and the shutdown ran
//! into the binary's 10 s grace, exit 1). Loopback only.
#![cfg(unix)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_dglab-relay");

/// Reads the next small unmasked server text frame (pings skipped, never answered).
async fn read_frame(tcp: &mut TcpStream) -> Value {
    loop {
        let (op, p) = read_any(tcp).await;
        if op == 1 {
            return serde_json::from_slice(&p).unwrap();
        }
    }
}

async fn read_any(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    tcp.read_exact(&mut h).await.unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            tcp.read_exact(&mut l).await.unwrap();
            u16::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut p = vec![0u8; len];
    tcp.read_exact(&mut p).await.unwrap();
    (h[0] & 0x0f, p)
}

#[tokio::test]
async fn sigterm_with_a_stalled_app_exits_0_within_3_s() {
    let mut child = Command::new(BIN)
        .args(["serve", "--host", "127.0.0.1", "--port", "0"])
        .env("DGLAB_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let port: u16 = loop {
        let line = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap();
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    let addr = format!("127.0.0.1:{port}");
    let (mut term, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    let t = loop {
        if let Some(Ok(Message::Text(s))) = term.next().await {
            let v: Value = serde_json::from_str(&s).unwrap();
            break v["clientId"].as_str().unwrap().to_owned();
        }
    };
    // The App: a raw socket with a small receive buffer that stops reading once paired.
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut app = sock.connect(addr.parse().unwrap()).await.unwrap();
    app.write_all(
        b"GET / HTTP/1.1\r\nHost: r\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        app.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let a = read_frame(&mut app).await["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let bind = json!({"type":"bind","clientId":t,"targetId":a,"message":"DGLAB"}).to_string();
    let mut f = vec![0x81u8, 0x80 | 126];
    f.extend_from_slice(&(bind.len() as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(bind.as_bytes());
    app.write_all(&f).await.unwrap();
    assert_eq!(read_frame(&mut app).await["message"], "200");
    // Flood the App until the relay's writer to it is stuck in a flush.
    let (mut sink, _stream) = term.split();
    let flood = tokio::spawn(async move {
        let big = "x".repeat(1800);
        for _ in 0..3000 {
            let m = json!({"type":"msg","clientId":t,"targetId":a,"message":big});
            if sink.send(Message::text(m.to_string())).await.is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let start = Instant::now();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dglab-relay still running 5 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = start.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    flood.abort();
    drop(app);
}
