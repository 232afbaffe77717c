//! "Try without a phone" through the shell: the commands pair the core's simulated App with
//! our terminal over the relay's socket, and the window's event carries what it played as
//! plain numbers (no protocol in JS). A phone already paired is refused in words.

mod common;

use common::{app_in, invoke, scratch, FakeApp};
use dglab_core::Frame;
use dglab_hub_lib::commands::virtual_app::EVENT_VIRTUAL_APP;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::Listener;

const SHARE: &str = "Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,50-0,100-1";

/// Waits (polling) until `f` returns something; panics after 10 s.
fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A frame from its decoded numbers (`{freq: [4], intensity: [4]}`, as the window gets it).
fn decoded(v: &Value) -> Frame {
    let freq: [u8; 4] = serde_json::from_value(v["freq"].clone()).unwrap();
    let intensity: [u8; 4] = serde_json::from_value(v["intensity"].clone()).unwrap();
    Frame::new(freq, intensity).unwrap()
}

#[test]
fn one_command_pairs_and_the_window_gets_the_played_frames_as_numbers() {
    let (app, w) = app_in(&scratch("virtual-app"));
    let updates: Arc<Mutex<Vec<Value>>> = Arc::default();
    let u = Arc::clone(&updates);
    app.listen_any(EVENT_VIRTUAL_APP, move |e| {
        u.lock()
            .unwrap()
            .push(serde_json::from_str(e.payload()).unwrap());
    });

    let started = invoke(&w, "start_virtual_app", json!({ "softA": 30, "softB": 90 })).unwrap();
    assert_eq!(started["running"], true);
    let app_id = started["state"]["app_id"].as_str().unwrap().to_owned();
    // Our terminal is paired with it, as with a phone, and has its soft limits.
    let gate = until("the App's report", || {
        let g = invoke(&w, "strength_state", json!({})).unwrap();
        (g["report"]["limit_a"] == 30).then_some(g)
    });
    assert_eq!(gate["app"], app_id.as_str());
    assert_eq!(gate["report"]["limit_b"], 90);
    let rows = invoke(&w, "list_connections", json!({})).unwrap();
    let ours = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ours"] == true)
        .unwrap();
    assert_eq!(ours["paired_with"], app_id.as_str());

    // Starting again while it runs is the same App.
    let again = invoke(&w, "start_virtual_app", json!({ "softA": 1, "softB": 1 })).unwrap();
    assert_eq!(again["state"]["app_id"], app_id.as_str());

    // A pattern played once on A arrives in the events, frame by frame, as numbers.
    let pattern = invoke(&w, "parse_share", json!({ "text": SHARE })).unwrap()["pattern"].clone();
    let expanded = invoke(&w, "expand_pattern", json!({ "pattern": pattern })).unwrap();
    let want: Vec<Frame> = expanded["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(decoded)
        .collect();
    invoke(
        &w,
        "play_waveform",
        json!({ "channels": ["A"], "pattern": pattern, "repeat": "once" }),
    )
    .unwrap();
    let played: Vec<Value> = until("the frames in the events", || {
        let all: Vec<Value> = updates
            .lock()
            .unwrap()
            .iter()
            .flat_map(|u| u["ticks"].as_array().cloned().unwrap_or_default())
            .filter(|t| t["channel"] == "A" && !t["freq"].is_null())
            .collect();
        (all.len() >= want.len()).then_some(all)
    });
    let got: Vec<Frame> = played
        .iter()
        .map(|t| {
            let f = decoded(t);
            assert_eq!(t["hex"], f.to_hex());
            f
        })
        .collect();
    assert_eq!(got, want);

    // Soft limits and feedback from the simulated phone.
    invoke(
        &w,
        "set_virtual_soft_limits",
        json!({ "softA": 20, "softB": 90 }),
    )
    .unwrap();
    until("the new soft limit at the gate", || {
        let g = invoke(&w, "strength_state", json!({})).unwrap();
        (g["report"]["limit_a"] == 20).then_some(())
    });
    let refused = invoke(&w, "press_virtual_feedback", json!({ "button": 10 })).unwrap_err();
    assert_eq!(refused["kind"], "out_of_range");
    invoke(&w, "press_virtual_feedback", json!({ "button": 2 })).unwrap();

    // Stopped: our terminal is free again and the window is told it ended.
    let stopped = invoke(&w, "stop_virtual_app", json!({})).unwrap();
    assert_eq!(stopped["running"], false);
    until("the end in the events", || {
        updates
            .lock()
            .unwrap()
            .iter()
            .any(|u| u["ended"] == "closed")
            .then_some(())
    });
    until("our terminal free", || {
        let g = invoke(&w, "strength_state", json!({})).unwrap();
        g["app"].is_null().then_some(())
    });
    let off = invoke(&w, "press_virtual_feedback", json!({ "button": 1 })).unwrap_err();
    assert_eq!(off["kind"], "virtual_app_off");
}

#[test]
fn with_a_phone_paired_the_virtual_app_is_refused_in_words() {
    let (_app, w) = app_in(&scratch("virtual-app-busy"));
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    tauri::async_runtime::block_on(async {
        let _phone = FakeApp::pair(&info).await;
        let e = invoke(&w, "start_virtual_app", json!({ "softA": 10, "softB": 10 })).unwrap_err();
        assert_eq!(e, json!({ "kind": "virtual_app_busy", "params": {} }));
        let state = invoke(&w, "virtual_app_state", json!({})).unwrap();
        assert_eq!(state["running"], false);
    });
}
