//! The player through a real local [`Terminal`] and a live relay, to a phone-side
//! WebSocket client: checks the `PulseOutput` impl for `Terminal` and the wire strings
//! (`pulse-A:[…]`, `clear-1`) the App would see. Real time, about two seconds.

use dglab_core::player::{PlayState, Player, PlayerConfig, Repeat};
use dglab_core::{Channel, Frame, RelayConfig, Terminal};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("socket open")
            .expect("no socket error");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] != "heartbeat" {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn player_streams_through_a_local_terminal_to_the_app() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // No heartbeats or pings, so "nothing after the clear" means nothing at all.
    let config = RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        ..RelayConfig::default()
    };
    let relay = dglab_core::start(listener, config).unwrap();
    let (terminal, mut events) = Terminal::local(&relay);
    let url = format!("ws://{}/{}", relay.local_addr(), terminal.id());
    let (mut phone, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = recv(&mut phone).await;
    let app_id = hello["clientId"].as_str().unwrap().to_owned();
    let bind = json!({"type": "bind", "clientId": terminal.id().to_string(),
                      "targetId": app_id, "message": "DGLAB"});
    phone.send(Message::text(bind.to_string())).await.unwrap();
    assert_eq!(recv(&mut phone).await["message"], "200");
    while terminal.app().is_none() {
        events.recv().await.unwrap();
    }

    let pass: Vec<Frame> = (0..12)
        .map(|i| Frame::uniform(20, i * 8).unwrap())
        .collect();
    let player = Player::spawn(terminal.clone(), Channel::A, PlayerConfig::default()).unwrap();
    player.play(pass.clone(), Repeat::Once).unwrap();
    let mut got = Vec::new();
    while got.len() < pass.len() {
        let v = recv(&mut phone).await;
        let m = v["message"].as_str().unwrap();
        let list = m.strip_prefix("pulse-A:").expect(m);
        let hex: Vec<String> = serde_json::from_str(list).unwrap();
        got.extend(hex.iter().map(|h| h.parse::<Frame>().unwrap()));
    }
    assert_eq!(got, pass);
    let mut rx = player.subscribe();
    rx.wait_for(|p| p.state == PlayState::Finished)
        .await
        .unwrap();

    player.play(pass.clone(), Repeat::Loop).unwrap();
    assert!(recv(&mut phone).await["message"]
        .as_str()
        .unwrap()
        .starts_with("pulse-A:"));
    player.stop().unwrap();
    // Whatever was sent before the stop may still be on its way; the clear comes last.
    loop {
        let m = recv(&mut phone).await["message"]
            .as_str()
            .unwrap()
            .to_owned();
        if m == "clear-1" {
            break;
        }
        assert!(m.starts_with("pulse-A:"), "{m}");
    }
    let quiet = tokio::time::timeout(Duration::from_millis(500), phone.next()).await;
    assert!(quiet.is_err(), "nothing after the clear: {quiet:?}");
    relay.shutdown().await;
}
