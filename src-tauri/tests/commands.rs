//! The commands through real IPC on Tauri's mock runtime (no window, no display), against a
//! real relay on 127.0.0.1 and a simulated phone App over a real WebSocket.

use dglab_hub_lib::{build_app, start_services};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tauri::test::{
    get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY,
};
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use tokio_tungstenite::tungstenite::Message;

fn app() -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = build_app(mock_builder())
        .build(mock_context(noop_assets()))
        .expect("mock app builds");
    // The mock runtime never reaches the `setup` hook (that needs an event loop), so the
    // services start here, as `run()`'s setup does, on an OS-chosen loopback port.
    start_services(app.handle(), IpAddr::V4(Ipv4Addr::LOCALHOST), 0).expect("relay starts");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("mock window");
    (app, window)
}

/// Invokes `cmd` like the UI does; `Err` carries the command's `{kind, message}`.
fn invoke(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        w,
        tauri::webview::InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::from(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn pairing_info_names_our_terminal_and_validates_typed_addresses() {
    let (_app, w) = app();
    let status = invoke(&w, "terminal_status", json!({})).unwrap();
    let id = status["id"].as_str().unwrap().to_owned();

    let info = invoke(&w, "pairing_info", json!({ "base": null })).unwrap();
    let url = info["url"].as_str().unwrap();
    assert!(url.starts_with("https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#ws://"));
    assert!(url.ends_with(&format!("/{id}")), "{url}");
    assert!(
        info["svg"].as_str().unwrap().starts_with("<?xml")
            || info["svg"].as_str().unwrap().contains("<svg")
    );

    let typed = invoke(
        &w,
        "pairing_info",
        json!({ "base": "wss://relay.example.org/dglab/" }),
    )
    .unwrap();
    assert_eq!(
        typed["url"],
        format!("https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#wss://relay.example.org/dglab/{id}")
    );

    let bad = invoke(&w, "pairing_info", json!({ "base": "http://example.org" })).unwrap_err();
    assert_eq!(bad["kind"], "invalid_url");
}

#[test]
fn connections_list_our_local_terminal() {
    let (_app, w) = app();
    let rows = invoke(&w, "list_connections", json!({})).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["role"], "local");
    assert_eq!(rows[0]["ours"], true);
    assert!(rows[0]["remote"].is_null());
}

#[test]
fn strength_without_a_phone_is_a_plain_error() {
    let (_app, w) = app();
    let err = invoke(&w, "set_strength", json!({ "channel": "A", "value": 10 })).unwrap_err();
    assert_eq!(err["kind"], "not_paired");
    assert!(err["message"].as_str().unwrap().contains("QR code"));
}

/// A phone App: connects to the pairing URL's address, binds, then reads `msg` frames.
struct FakeApp {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl FakeApp {
    async fn pair(pairing_url: &str) -> FakeApp {
        let ws_url = pairing_url.split('#').nth(2).unwrap();
        let terminal = ws_url.rsplit('/').next().unwrap().to_owned();
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        let hello = next_json(&mut ws).await;
        let me = hello["clientId"].as_str().unwrap().to_owned();
        let bind =
            json!({"type": "bind", "clientId": terminal, "targetId": me, "message": "DGLAB"});
        ws.send(Message::text(bind.to_string())).await.unwrap();
        let ok = next_json(&mut ws).await;
        assert_eq!(ok["message"], "200", "{ok}");
        FakeApp { ws }
    }

    /// The next `msg` payload, skipping heartbeats.
    async fn next_msg(&mut self) -> String {
        loop {
            let v = next_json(&mut self.ws).await;
            if v["type"] == "msg" {
                return v["message"].as_str().unwrap().to_owned();
            }
        }
    }
}

async fn next_json<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

#[test]
fn strength_reaches_the_app_and_emergency_stop_latches() {
    let (_app, w) = app();
    let info = invoke(&w, "pairing_info", json!({ "base": null })).unwrap();
    // Dial loopback whatever LAN address the URL carries: tests stay on this machine.
    let port = info["port"]["actual"].as_u64().unwrap();
    let url = info["url"].as_str().unwrap();
    let id = url.rsplit('/').next().unwrap();
    let local_url = format!("x#DGLAB-SOCKET#ws://127.0.0.1:{port}/{id}");

    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&local_url).await;
        let rows = invoke(&w, "list_connections", json!({})).unwrap();
        assert!(rows.as_array().unwrap().iter().any(|r| r["role"] == "app"));

        invoke(&w, "set_strength", json!({ "channel": "A", "value": 35 })).unwrap();
        assert_eq!(phone.next_msg().await, "strength-1+2+35");
        invoke(
            &w,
            "step_strength",
            json!({ "channel": "B", "direction": "up" }),
        )
        .unwrap();
        assert_eq!(phone.next_msg().await, "strength-2+1+1");

        let all_sent = invoke(&w, "emergency_stop", json!({})).unwrap();
        assert_eq!(all_sent, true);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(phone.next_msg().await);
        }
        got.sort();
        assert_eq!(
            got,
            ["clear-1", "clear-2", "strength-1+2+0", "strength-2+2+0"]
        );

        let err = invoke(&w, "set_strength", json!({ "channel": "A", "value": 5 })).unwrap_err();
        assert_eq!(err["kind"], "stopped");
        assert_eq!(
            invoke(&w, "terminal_status", json!({})).unwrap()["stopped"],
            true
        );

        invoke(&w, "rearm", json!({})).unwrap();
        invoke(&w, "set_strength", json!({ "channel": "A", "value": 5 })).unwrap();
        assert_eq!(phone.next_msg().await, "strength-1+2+5");
    });
}
