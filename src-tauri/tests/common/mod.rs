//! What the shell's integration tests share: an app on Tauri's mock runtime with its
//! services on loopback, `invoke` as the UI calls it, and a simulated phone App.

#![allow(dead_code)] // each test file uses its own part

use dglab_hub_lib::state::Services;
use dglab_hub_lib::{build_app, start_services};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tauri::test::{
    get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime, INVOKE_KEY,
};
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use tokio_tungstenite::tungstenite::Message;

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dglab-hub-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn app_in(dir: &Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = build_app(mock_builder())
        .build(mock_context(noop_assets()))
        .expect("mock app builds");
    // The mock runtime never reaches the `setup` hook (that needs an event loop), so the
    // services start here, as `run()`'s setup does, on an OS-chosen loopback port.
    let services = Services {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
        port: Some(0),
        v4_port: Some(0),
        // No watchdog: a test paused by a busy machine must not trip it.
        watchdog: None,
    };
    start_services(app.handle(), services).expect("services start");
    // The game API (Games panel), as `run()`'s setup starts it, on any free loopback port.
    dglab_hub_lib::commands::games::start_on(app.handle(), Some(0));
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("mock window");
    (app, window)
}

/// Invokes `cmd` like the UI does; `Err` carries the command's `{kind, params}`.
pub fn invoke(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
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

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A phone App: pairs through the pairing URL's path, then answers every strength command
/// with a strength report, as the real App does.
pub struct FakeApp {
    ws: Ws,
    me: String,
    terminal: String,
    pub strength: [u8; 2],
    pub limit: [u8; 2],
}

impl FakeApp {
    /// Pairs with the terminal of `info` (a `pairing_info` answer), dialling loopback.
    pub async fn pair(info: &Value) -> FakeApp {
        let port = info["port"]["actual"].as_u64().unwrap();
        let terminal = info["url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/{terminal}"))
                .await
                .unwrap();
        let me = next_json(&mut ws).await["clientId"]
            .as_str()
            .unwrap()
            .to_owned();
        let bind =
            json!({"type": "bind", "clientId": terminal, "targetId": me, "message": "DGLAB"});
        ws.send(Message::text(bind.to_string())).await.unwrap();
        assert_eq!(next_json(&mut ws).await["message"], "200");
        let mut app = FakeApp {
            ws,
            me,
            terminal,
            strength: [0, 0],
            limit: [100, 100],
        };
        // Every pairing starts with both channels at 0 and both queues cleared.
        assert_eq!(
            app.take(4).await,
            ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"]
        );
        app.report().await;
        app
    }

    pub async fn report(&mut self) {
        let [a, b] = self.strength;
        let [la, lb] = self.limit;
        let msg = json!({"type": "msg", "clientId": self.terminal, "targetId": self.me,
                         "message": format!("strength-{a}+{b}+{la}+{lb}")});
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
    }

    /// The next `n` `msg` payloads, read without answering them (an App that is slow to
    /// report, or silent).
    pub async fn take(&mut self, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        while got.len() < n {
            let v = next_json(&mut self.ws).await;
            if v["type"] == "msg" {
                got.push(v["message"].as_str().unwrap().to_owned());
            }
        }
        got
    }

    /// Collects `msg` payloads (answering strength commands) until `done` holds.
    pub async fn pump(&mut self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let mut got: Vec<String> = Vec::new();
        while !done(&got) {
            let v = next_json(&mut self.ws).await;
            if v["type"] != "msg" {
                continue;
            }
            let m = v["message"].as_str().unwrap().to_owned();
            if let Some(rest) = m.strip_prefix("strength-") {
                let parts: Vec<u8> = rest.split('+').map(|x| x.parse().unwrap()).collect();
                let ch = usize::from(parts[0] - 1);
                self.strength[ch] = match parts[1] {
                    0 => self.strength[ch].saturating_sub(parts[2]),
                    1 => self.strength[ch].saturating_add(parts[2]),
                    _ => parts[2],
                }
                .min(self.limit[ch]);
                self.report().await;
            }
            got.push(m);
        }
        got
    }
}

pub async fn next_json(ws: &mut Ws) -> Value {
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
