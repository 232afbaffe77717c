//! Issue 11, point 2: the connection policy, over real sockets. A second "host" is a
//! client socket bound to another loopback address (127.0.0.2, 127.0.0.3): nothing here
//! leaves 127.0.0.0/8.

mod common;

use common::start_relay_with;
use dglab_core::relay::{RelayConfig, RelayHandle};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

fn config() -> RelayConfig {
    RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        ..RelayConfig::default()
    }
}

async fn tcp_from(relay: &RelayHandle, from: &str) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    sock.connect(relay.local_addr()).await.unwrap()
}

/// A WebSocket from `from`, its greeting read; `None` if the relay refused it.
async fn ws_from(relay: &RelayHandle, from: &str) -> Option<(Ws, String)> {
    let tcp = tcp_from(relay, from).await;
    let url = format!("ws://{}/", relay.local_addr());
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.ok()?;
    let hello = next_json(&mut ws).await;
    Some((ws, hello["clientId"].as_str().unwrap().to_owned()))
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(common::WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).unwrap(),
            Ok(Some(Ok(_))) => {}
            other => panic!("no frame: {other:?}"),
        }
    }
}

async fn wait_for_count(relay: &RelayHandle, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while relay.connection_count() != n {
        assert!(
            Instant::now() < deadline,
            "{} connections, expected {n}",
            relay.connection_count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn one_address_is_held_to_its_limit_and_another_is_not_affected() {
    let relay = start_relay_with(RelayConfig {
        max_per_loopback_address: 3,
        ..config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            ws_from(&relay, "127.0.0.2")
                .await
                .expect("within the limit"),
        );
    }
    assert!(
        ws_from(&relay, "127.0.0.2").await.is_none(),
        "a 4th from one address"
    );
    // Another address is untouched by the first one's limit.
    let other = ws_from(&relay, "127.0.0.3").await;
    assert!(other.is_some());
    // A slot given back can be taken again.
    drop(held.pop());
    wait_for_count(&relay, 3).await;
    assert!(ws_from(&relay, "127.0.0.2").await.is_some());
    relay.shutdown().await;
}

#[tokio::test]
async fn a_refused_connection_gets_503() {
    let relay = start_relay_with(RelayConfig {
        max_per_loopback_address: 0,
        ..config()
    })
    .await;
    let mut tcp = tcp_from(&relay, "127.0.0.2").await;
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(common::WAIT, tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 503 "), "{:?}", &buf[..n]);
    relay.shutdown().await;
}

#[tokio::test]
async fn the_reserve_lets_a_phone_pair_while_one_host_holds_all_the_rest() {
    let relay = start_relay_with(RelayConfig {
        max_connections: 8,
        reserved_connections: 3,
        max_per_loopback_address: usize::MAX,
        ..config()
    })
    .await;
    let (mut term, t) = ws_from(&relay, "127.0.0.1").await.unwrap();
    // One host takes everything it can get, for as long as it likes.
    let mut hog = Vec::new();
    while let Some(c) = ws_from(&relay, "127.0.0.2").await {
        hog.push(c);
        assert!(hog.len() <= 8, "the hog was never refused");
    }
    assert_eq!(hog.len(), 8 - 3 - 1, "the hog stops at the reserve");
    // A phone elsewhere still connects and pairs.
    let (mut phone, a) = ws_from(&relay, "127.0.0.3")
        .await
        .expect("the phone gets a reserved slot");
    let bind = json!({"type":"bind","clientId":t,"targetId":a,"message":"DGLAB"});
    phone.send(Message::text(bind.to_string())).await.unwrap();
    assert_eq!(next_json(&mut phone).await["message"], "200");
    assert_eq!(next_json(&mut term).await["message"], "200");
    relay.shutdown().await;
}

#[tokio::test]
async fn a_socket_that_never_finishes_the_handshake_is_closed_at_the_deadline() {
    let relay = start_relay_with(RelayConfig {
        handshake_timeout: Duration::from_millis(300),
        max_connections: 1,
        reserved_connections: 0,
        ..config()
    })
    .await;
    let mut silent = tcp_from(&relay, "127.0.0.2").await;
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(3), silent.read(&mut buf))
        .await
        .expect("not closed at the deadline")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(start.elapsed() >= Duration::from_millis(250));
    // Its slot is free again.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if ws_from(&relay, "127.0.0.3").await.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "slot not freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.shutdown().await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_soft_open_files_limit_is_raised_to_the_hard_one() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    // Start from the usual soft limit, whatever this machine's is.
    let hard = getrlimit(Resource::Nofile).maximum;
    let low = hard.map_or(1024, |h| h.min(1024));
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(low),
            maximum: hard,
        },
    )
    .unwrap();
    let relay = start_relay_with(config()).await;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let v: Vec<&str> = line.split_whitespace().collect();
    // "Max open files  <soft>  <hard>  files"
    assert_eq!(v[3], v[4], "{line}");
    relay.shutdown().await;
}
