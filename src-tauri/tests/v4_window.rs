//! The DG-LAB App 4.x in the window (issue 13 point 4), through real IPC on Tauri's mock
//! runtime against the app's real V4 relay on 127.0.0.1: the pairing panel's App choice
//! (remembered), a simulated 4.x App pairing through the V4 link and its device slots in
//! the binding table, and the user's caps and STOP binding another controller's 4.x App on
//! the window's relay.

mod common;

use common::{app_in, invoke, next_json, scratch, Ws};
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const V4_PREFIX: &str = "https://dungeon-lab.cn/s/?v=1&action=socket&url=";

/// The App socket URL inside a V4 link, decoded (`%XX` → byte), with the host made
/// loopback: the test dials 127.0.0.1 whatever LAN address the QR code carries.
fn socket_url(info: &Value) -> (String, String) {
    let url = decoded(info);
    let tid = url.rsplit("tid=").next().unwrap().to_owned();
    let port = info["port"]["actual"].as_u64().unwrap();
    (format!("ws://127.0.0.1:{port}/?tid={tid}"), tid)
}

/// The App socket URL inside a V4 link, as the phone reads it.
fn decoded(info: &Value) -> String {
    let link = info["url"].as_str().unwrap();
    let encoded = link.strip_prefix(V4_PREFIX).expect("a V4 link");
    let bytes = encoded.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn send(ws: &mut Ws, data: Value) {
    let frame = json!({"type": "message", "data": data});
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// Polls `v4_apps` until `f` finds what it waits for (the table is filled by tasks).
fn until(w: &tauri::WebviewWindow<tauri::test::MockRuntime>, f: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let rows = invoke(w, "v4_apps", json!({})).unwrap();
        if f(&rows) {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "not reached; last table: {}",
        invoke(w, "v4_apps", json!({})).unwrap()
    );
}

#[test]
fn the_app_choice_is_remembered_and_4x_shows_the_v4_link_of_our_controller() {
    let dir = scratch("v4-choice");
    {
        let (_app, w) = app_in(&dir);
        let first = invoke(&w, "pairing_info", json!({})).unwrap();
        assert_eq!(first["app"], "socket", "3.x stays the default");
        assert!(first["url"].as_str().unwrap().contains("#DGLAB-SOCKET#"));

        let v4 = invoke(&w, "set_pairing_app", json!({"pairingApp": "v4"})).unwrap();
        assert_eq!(v4["app"], "v4");
        assert!(v4["svg"].as_str().unwrap().contains("<svg"));
        let (_, tid) = socket_url(&v4);
        let table = invoke(&w, "v4_apps", json!({})).unwrap();
        assert_eq!(table[0]["ours"], true);
        assert_eq!(table[0]["id"], tid, "the QR names our controller");
        assert_ne!(
            v4["port"]["actual"], first["port"]["actual"],
            "the V4 relay has its own port"
        );

        // A typed address is kept per App: a V4 reverse proxy's path gets `?tid=` after it.
        let typed = invoke(
            &w,
            "set_pairing_address",
            json!({"choice": "wss://relay.example.org/v4"}),
        )
        .unwrap();
        assert_eq!(
            typed["url"],
            format!("{V4_PREFIX}wss%3A%2F%2Frelay.example.org%2Fv4%3Ftid%3D{tid}")
        );
        let socket = invoke(&w, "set_pairing_app", json!({"pairingApp": "socket"})).unwrap();
        assert!(
            !socket["url"]
                .as_str()
                .unwrap()
                .contains("relay.example.org"),
            "the 3.x code keeps its own address"
        );
        invoke(&w, "set_pairing_app", json!({"pairingApp": "v4"})).unwrap();
        // An App this version does not know: Tauri's own rejection (the window's
        // `invalid_args`), and nothing is saved.
        let bad = invoke(&w, "set_pairing_app", json!({"pairingApp": "v5"})).unwrap_err();
        assert!(bad
            .as_str()
            .is_some_and(|t| t.starts_with("invalid args `pairingApp`")));
    }
    // The next start opens on the 4.x code, with its address.
    let (_app, w) = app_in(&dir);
    let again = invoke(&w, "pairing_info", json!({})).unwrap();
    assert_eq!(again["app"], "v4");
    assert!(again["url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{V4_PREFIX}wss%3A%2F%2Frelay.example.org%2Fv4")));
}

#[test]
fn a_4x_app_pairs_through_the_v4_link_and_its_device_slots_are_listed() {
    let dir = scratch("v4-pair");
    let (_app, w) = app_in(&dir);
    let info = invoke(&w, "set_pairing_app", json!({"pairingApp": "v4"})).unwrap();
    let (url, tid) = socket_url(&info);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        assert_eq!(next_json(&mut ws).await["type"], "hello");
        let attached = next_json(&mut ws).await;
        assert_eq!(attached["type"], "controller_attached");
        assert_eq!(attached["clientId"], tid);
        ws
    });
    let rows = until(&w, |t| {
        t[0]["apps"].as_array().is_some_and(|a| a.len() == 1)
    });
    let app_id = rows[0]["apps"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        rows[0]["apps"][0]["devices"],
        Value::Null,
        "nothing reported yet"
    );

    rt.block_on(send(
        &mut ws,
        json!({"t": "ev", "ev": "devices.snapshot", "devices": [
            {"slotId": "s1", "name": "郊狼 3.0", "type": "COYOTE_030",
             "props": {"power": 76, "intensityA": 0, "intensityB": 0},
             "slotState": {"hasDevice": true, "channelA": {"intensityMax": 50}}},
            {"slotId": "s2", "name": "OVC", "type": "OVC_1"}
        ]}),
    ));
    let rows = until(&w, |t| t[0]["apps"][0]["devices"].is_array());
    let devices = &rows[0]["apps"][0]["devices"];
    assert_eq!(devices.as_array().unwrap().len(), 2);
    assert_eq!(devices[0]["name"], "郊狼 3.0");
    assert_eq!(devices[0]["kind"], "COYOTE_030");
    assert_eq!(devices[0]["limit"], json!([50, null]));
    assert_eq!(devices[0]["battery"], 76);

    rt.block_on(send(
        &mut ws,
        json!({"t": "ev", "ev": "slots.patch", "slots": [{"slotId": "s1", "props": {"intensityA": 9}}]}),
    ));
    until(&w, |t| {
        t[0]["apps"][0]["devices"][0]["strength"] == json!([9, 0])
    });

    // The App leaves: its row goes.
    rt.block_on(async { ws.close(None).await.unwrap() });
    let rows = until(&w, |t| t[0]["apps"].as_array().is_some_and(Vec::is_empty));
    assert!(!rows.to_string().contains(&app_id));
}

/// The device.op requests (their `data`) an App received until `quiet` passes without one.
async fn ops_until_quiet(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    use futures_util::StreamExt;
    let mut out = vec![];
    while let Ok(Some(Ok(m))) = tokio::time::timeout(quiet, ws.next()).await {
        let Message::Text(t) = m else { continue };
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["type"] == "message" && v["data"]["t"] == "req" {
            out.push(v["data"].clone());
        }
    }
    out
}

/// Rule 1 on the window's V4 relay: another controller (a dglab-kit script, say) pairs its
/// own 4.x App, and what it sends is bounded by the user's caps (default 40) — a new slot
/// starts at 0, +200 never arrives — and the window's STOP reaches that App too (cleared
/// and at 0), after which a raise is refused in the controller's own terms.
#[test]
fn another_controllers_4x_app_is_capped_and_stopped_by_the_window() {
    let dir = scratch("v4-capped");
    let (_app, w) = app_in(&dir);
    let info = invoke(&w, "set_pairing_app", json!({"pairingApp": "v4"})).unwrap();
    let port = info["port"]["actual"].as_u64().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut ctl, mut app, aid) = rt.block_on(async {
        let base = format!("ws://127.0.0.1:{port}");
        let (mut ctl, _) = tokio_tungstenite::connect_async(&base).await.unwrap();
        let cid = next_json(&mut ctl).await["clientId"]
            .as_str()
            .unwrap()
            .to_owned();
        let (mut app, _) = tokio_tungstenite::connect_async(format!("{base}/v4?tid={cid}"))
            .await
            .unwrap();
        let aid = next_json(&mut app).await["clientId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(next_json(&mut app).await["type"], "controller_attached");
        send(
            &mut app,
            json!({"t": "ev", "ev": "devices.snapshot", "devices": [{"slotId": "s1", "name": "Coyote",
                "type": "COYOTE_030", "props": {"intensityA": 0, "intensityB": 0},
                "slotState": {"hasDevice": true}}]}),
        )
        .await;
        (ctl, app, aid)
    });
    rt.block_on(async {
        // Whatever the policy sends a new slot (its zeroing) first.
        ops_until_quiet(&mut app, Duration::from_millis(300)).await;
        let op = json!({"type": "message", "clientId": aid, "data":
            {"t": "req", "reqId": "1", "m": "device.op", "data": {"s": "s1", "t": 3, "c": 0, "p": 1, "v": 200}}});
        ctl.send(Message::text(op.to_string())).await.unwrap();
        let got = ops_until_quiet(&mut app, Duration::from_millis(500)).await;
        let raised: i64 = got
            .iter()
            .filter(|r| r["m"] == "device.op" && r["data"]["t"] == 3 && r["data"]["c"] == 0)
            .map(|r| r["data"]["v"].as_i64().unwrap())
            .sum();
        assert!(
            (1..=40).contains(&raised),
            "A raised, within the cap: {raised} in total: {got:?}"
        );
    });

    invoke(&w, "emergency_stop", json!({})).unwrap();
    rt.block_on(async {
        let got = ops_until_quiet(&mut app, Duration::from_millis(500)).await;
        assert!(
            got.iter().any(|r| r["m"] == "device.op.clear"),
            "STOP clears the 4.x App: {got:?}"
        );
        assert!(
            got.iter()
                .any(|r| r["m"] == "device.op" && r["data"]["t"] == 7 && r["data"]["c"] == 0),
            "STOP sets A to 0: {got:?}"
        );
        // While stopped, a raise never reaches the App and its controller is told.
        let op = json!({"type": "message", "clientId": aid, "data":
            {"t": "req", "reqId": "2", "m": "device.op", "data": {"s": "s1", "t": 3, "c": 0, "p": 1, "v": 5}}});
        ctl.send(Message::text(op.to_string())).await.unwrap();
        loop {
            let f = next_json(&mut ctl).await;
            if f["type"] == "message" && f["data"]["reqId"] == "2" {
                assert!(f["data"]["error"].is_string(), "{f}");
                break;
            }
        }
        let after = ops_until_quiet(&mut app, Duration::from_millis(300)).await;
        assert!(
            !after
                .iter()
                .any(|r| r["data"]["t"] == 3 && r["data"]["v"].as_i64() > Some(0)),
            "{after:?}"
        );
    });
    let rows = invoke(&w, "v4_apps", json!({})).unwrap();
    assert_eq!(
        rows.as_array().unwrap().len(),
        2,
        "ours and the other controller"
    );
    assert_eq!(
        rows[1]["apps"][0]["devices"],
        Value::Null,
        "another's App: not heard"
    );
}

/// The V4 port from the settings, as `run()` starts it: taken by another program (the
/// official relay, say), the 4.x relay moves to a later port and the 4.x code says so;
/// the SOCKET v2 relay is unaffected.
#[test]
fn a_busy_v4_port_moves_the_4x_relay_and_its_code_says_where() {
    use dglab_hub_lib::state::Services;
    use std::net::{IpAddr, Ipv4Addr};
    let dir = scratch("v4-busy");
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = blocker.local_addr().unwrap().port();
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(
        dir.join("config/settings.json"),
        json!({"v4Port": busy, "pairingApp": "v4"}).to_string(),
    )
    .unwrap();
    let app = dglab_hub_lib::build_app(tauri::test::mock_builder())
        .build(tauri::test::mock_context(tauri::test::noop_assets()))
        .unwrap();
    let services = Services {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
        port: Some(0),
        v4_port: None,
        watchdog: None,
    };
    dglab_hub_lib::start_services(app.handle(), services).unwrap();
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    assert_eq!(info["port"]["requested"], busy);
    assert_eq!(info["port"]["reason"], "busy");
    let actual = info["port"]["actual"].as_u64().unwrap();
    assert_ne!(actual, u64::from(busy));
    let url = decoded(&info);
    assert!(url.contains(&format!(":{actual}/?tid=")), "{url}");
    drop(blocker);
}

/// The window drives a 4.x slot through the gate: "A to 100" with the default cap of 40
/// reaches the App as raises totalling at most 40; STOP then refuses a raise in words
/// (`stopped`), and a slot the App never showed is `device_gone`.
#[test]
fn the_window_sets_a_4x_slot_within_the_cap_and_not_while_stopped() {
    let dir = scratch("v4-drive");
    let (_app, w) = app_in(&dir);
    let info = invoke(&w, "set_pairing_app", json!({"pairingApp": "v4"})).unwrap();
    let (url, _) = socket_url(&info);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        assert_eq!(next_json(&mut ws).await["type"], "hello");
        assert_eq!(next_json(&mut ws).await["type"], "controller_attached");
        send(
            &mut ws,
            json!({"t": "ev", "ev": "devices.snapshot", "devices": [{"slotId": "s1", "name": "Coyote",
                "type": "COYOTE_030", "props": {"intensityA": 0, "intensityB": 0},
                "slotState": {"hasDevice": true}}]}),
        )
        .await;
        ops_until_quiet(&mut ws, Duration::from_millis(300)).await;
        ws
    });
    let rows = until(&w, |t| t[0]["apps"][0]["devices"].is_array());
    let app = rows[0]["apps"][0]["id"].as_str().unwrap().to_owned();
    let set = |ch: &str, value: u8| {
        invoke(
            &w,
            "v4_set_strength",
            json!({"app": app, "slot": "s1", "channel": ch, "value": value}),
        )
    };
    assert_eq!(set("A", 100).unwrap(), 40, "the cap");
    let got = rt.block_on(ops_until_quiet(&mut ws, Duration::from_millis(400)));
    let raised: i64 = got
        .iter()
        .filter(|r| r["m"] == "device.op" && r["data"]["t"] == 3 && r["data"]["c"] == 0)
        .map(|r| r["data"]["v"].as_i64().unwrap())
        .sum();
    assert!((1..=40).contains(&raised), "{raised}: {got:?}");
    assert!(
        got.iter().all(|r| r["data"]["c"] != 1),
        "B untouched: {got:?}"
    );

    invoke(&w, "emergency_stop", json!({})).unwrap();
    assert_eq!(set("B", 5).unwrap_err()["kind"], "stopped");
    let missing = invoke(
        &w,
        "v4_set_strength",
        json!({"app": app, "slot": "nope", "channel": "A", "value": 0}),
    )
    .unwrap_err();
    assert_eq!(missing["kind"], "device_gone");
}
