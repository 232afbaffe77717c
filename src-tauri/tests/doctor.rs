//! The phone test, the phone attempts and the inspector through the shell, on the mock
//! runtime with the relay on loopback: what the window hears when a phone's browser opens
//! the test page, and that a stopped inspector leaves the relay copying nothing.

mod common;

use common::{app_in, invoke, scratch, FakeApp};
use dglab_hub_lib::events::{EVENT_INSPECTOR, EVENT_PHONE_ATTEMPT};
use dglab_hub_lib::state::AppState;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::{Listener, Manager};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn collect(app: &tauri::App<tauri::test::MockRuntime>, name: &str) -> Arc<Mutex<Vec<Value>>> {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = Arc::clone(&seen);
    app.listen_any(name, move |e| {
        s.lock()
            .unwrap()
            .push(serde_json::from_str(e.payload()).unwrap());
    });
    seen
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_phone_opening_the_test_page_is_heard_and_listed() {
    let (app, w) = app_in(&scratch("doctor-phone"));
    let attempts = collect(&app, EVENT_PHONE_ATTEMPT);
    let port = invoke(&w, "pairing_info", json!({})).unwrap()["port"]["actual"]
        .as_u64()
        .unwrap();
    let check = invoke(&w, "phone_check", json!({})).unwrap();
    let url = check["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://") && url.ends_with(&format!(":{port}/check")),
        "{url}"
    );
    assert!(check["svg"].as_str().unwrap().starts_with("<?xml"));

    tauri::async_runtime::block_on(async {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port as u16))
            .await
            .unwrap();
        tcp.write_all(b"GET /check HTTP/1.1\r\nHost: x\r\nUser-Agent: Phone/2\r\n\r\n")
            .await
            .unwrap();
        let mut page = String::new();
        tcp.read_to_string(&mut page).await.unwrap();
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        until("the attempt event", || !attempts.lock().unwrap().is_empty()).await;
    });
    let ev = attempts.lock().unwrap()[0].clone();
    assert_eq!(ev["kind"], "reached");
    assert_eq!(ev["params"]["user_agent"], "Phone/2");
    assert_eq!(ev["params"]["self_test"], false);
    assert!(ev["from"].as_str().unwrap().starts_with("127.0.0.1:"));
    let listed = invoke(&w, "phone_attempts", json!({})).unwrap();
    assert_eq!(listed[0]["kind"], "reached");
}

#[test]
fn the_inspector_streams_batches_and_a_stopped_one_costs_the_relay_nothing() {
    let (app, w) = app_in(&scratch("doctor-inspector"));
    let batches = collect(&app, EVENT_INSPECTOR);
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    assert_eq!(invoke(&w, "start_inspector", json!({})).unwrap(), true);
    assert_eq!(invoke(&w, "start_inspector", json!({})).unwrap(), false);
    let relay = app.state::<AppState>().relay.clone();
    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&info).await;
        let kinds = || -> Vec<String> {
            batches
                .lock()
                .unwrap()
                .iter()
                .flat_map(|b| b["records"].as_array().unwrap().clone())
                .map(|r| r["meaning"]["kind"].as_str().unwrap().to_owned())
                .collect()
        };
        until("the pairing's records", || {
            let k = kinds();
            k.contains(&"bind_request".to_owned()) && k.contains(&"strength_report".to_owned())
        })
        .await;
        assert!(batches
            .lock()
            .unwrap()
            .iter()
            .all(|b| b["records"].as_array().unwrap().len() <= 200 && b["lost"] == 0));

        assert_eq!(invoke(&w, "stop_inspector", json!({})).unwrap(), true);
        assert_eq!(invoke(&w, "stop_inspector", json!({})).unwrap(), false);
        // Let the aborted task drop its stream, then traffic: nothing more is copied.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let made = relay.inspected_records();
        invoke(&w, "set_strength", json!({ "channel": "A", "value": 1 })).unwrap();
        phone
            .pump(|got| got.iter().any(|m| m == "strength-1+2+1"))
            .await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(relay.inspected_records(), made);
    });
}
