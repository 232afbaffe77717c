//! Test support: a relay on 127.0.0.1:0 and a small WebSocket client that speaks JSON.
#![allow(dead_code)]

use dglab_core::relay::{self, RelayConfig, RelayHandle};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

/// A relay with heartbeats and pings off, so tests see only what they cause.
pub async fn start_relay() -> RelayHandle {
    start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        ..RelayConfig::default()
    })
    .await
}

pub async fn start_relay_with(config: RelayConfig) -> RelayHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    relay::start(listener, config).unwrap()
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The id the relay handed out in its greeting.
    pub id: String,
}

impl Client {
    /// Connects (to `path`, as the App does with the terminal id) and reads the greeting.
    pub async fn connect(relay: &RelayHandle, path: &str) -> Client {
        let url = format!("ws://{}/{}", relay.local_addr(), path);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut c = Client {
            ws,
            id: String::new(),
        };
        let hello = c.recv().await;
        assert_eq!(hello["type"], "bind");
        assert_eq!(hello["targetId"], "");
        assert_eq!(hello["message"], "targetId");
        c.id = hello["clientId"].as_str().unwrap().to_owned();
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.unwrap();
    }

    pub async fn msg(&mut self, client_id: &str, target_id: &str, message: &str) {
        self.send(
            json!({"type":"msg","clientId":client_id,"targetId":target_id,"message":message}),
        )
        .await;
    }

    /// The next text frame as JSON; panics on timeout, close or a non-JSON frame.
    pub async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            match m {
                Message::Text(t) => {
                    assert!(t.len() <= 1950, "relay sent an over-long frame");
                    return serde_json::from_str(&t).expect("relay sent non-JSON text");
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Asserts nothing arrives for `d`.
    pub async fn silent_for(&mut self, d: Duration) {
        match tokio::time::timeout(d, self.ws.next()).await {
            Err(_) => {}
            Ok(Some(Ok(Message::Ping(_)))) => {}
            Ok(other) => panic!("expected silence, got {other:?}"),
        }
    }

    /// Waits for the socket to be closed by the relay; returns the close code if any.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("not closed in time")
            {
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// A terminal and an App, bound to each other.
pub async fn pair(relay: &RelayHandle) -> (Client, Client) {
    let mut term = Client::connect(relay, "").await;
    let mut app = Client::connect(relay, &term.id).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    app.send(json!({"type":"bind","clientId":t,"targetId":a,"message":"DGLAB"}))
        .await;
    for c in [&mut term, &mut app] {
        let r = c.recv().await;
        assert_eq!(
            r,
            json!({"type":"bind","clientId":t,"targetId":a,"message":"200"})
        );
    }
    (term, app)
}
