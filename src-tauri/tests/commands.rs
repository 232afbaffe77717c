//! The commands through real IPC on Tauri's mock runtime (no window, no display), against a
//! real relay on 127.0.0.1, the core's safety gate and players, presets and settings in a
//! scratch folder, and a simulated phone App over a real WebSocket.

mod common;

use common::{app_in, invoke, scratch, FakeApp};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn pairing_address_choice_is_validated_and_saved() {
    let dir = scratch("pairing");
    let (_app, w) = app_in(&dir);
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    let id = info["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(info["url"]
        .as_str()
        .unwrap()
        .starts_with("https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#ws://"));
    assert!(info["svg"].as_str().unwrap().contains("<svg"));

    let typed = invoke(
        &w,
        "set_pairing_address",
        json!({ "choice": "wss://relay.example.org/dglab/" }),
    )
    .unwrap();
    assert_eq!(
        typed["url"],
        format!("https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#wss://relay.example.org/dglab/{id}")
    );
    // Saved: the next pairing_info (and the next start) uses it.
    assert_eq!(
        invoke(&w, "pairing_info", json!({})).unwrap()["url"],
        typed["url"]
    );

    let bad = invoke(
        &w,
        "set_pairing_address",
        json!({ "choice": "http://example.org" }),
    )
    .unwrap_err();
    assert_eq!(bad["kind"], "invalid_url");
    assert_eq!(
        invoke(&w, "pairing_info", json!({})).unwrap()["url"],
        typed["url"],
        "a refused choice is not saved"
    );
}

#[test]
fn connections_list_our_local_terminal() {
    let (_app, w) = app_in(&scratch("connections"));
    let rows = invoke(&w, "list_connections", json!({})).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["role"], "local");
    assert_eq!(rows[0]["ours"], true);
}

#[test]
fn strength_without_a_phone_is_a_kind_without_words() {
    let (_app, w) = app_in(&scratch("unpaired"));
    let err = invoke(&w, "set_strength", json!({ "channel": "A", "value": 10 })).unwrap_err();
    assert_eq!(err, json!({ "kind": "not_paired", "params": {} }));
}

#[test]
fn a_bad_argument_is_refused_by_tauri_in_the_words_backend_js_reads() {
    // Tauri reads the arguments before our command runs and rejects with its own English
    // text; ui/js/lib/notice.js turns exactly this shape into `invalid_args`.
    let (_app, w) = app_in(&scratch("badarg"));
    let err = invoke(&w, "set_strength", json!({ "channel": "A", "value": 300 })).unwrap_err();
    let text = err.as_str().expect("Tauri's own rejection is a string");
    assert!(
        text.starts_with("invalid args `value` for command `set_strength`"),
        "{text}"
    );
    // A range the shell checks itself is ours: `{kind, params}` with the numbers.
    let err = invoke(&w, "set_caps", json!({ "capA": 201, "capB": 0 })).unwrap_err();
    assert_eq!(err["kind"], "invalid_setting");
    assert_eq!(err["params"]["setting"], "cap_a");
    assert_eq!(err["params"]["max"], 200);
}

#[test]
fn strength_goes_through_the_gate_and_emergency_stop_latches() {
    let (_app, w) = app_in(&scratch("gate"));
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&info).await;
        phone.pump(|_| true).await;
        // Let the gate see the App's first report (soft limits 100).
        tokio::time::sleep(Duration::from_millis(100)).await;

        // A cap of 3 clamps a request for 5, and the rise is a ramp of +1 steps.
        invoke(&w, "set_caps", json!({ "capA": 3, "capB": 40 })).unwrap();
        let outcome = invoke(&w, "set_strength", json!({ "channel": "A", "value": 5 })).unwrap();
        assert_eq!(outcome["asked"], 5);
        assert_eq!(outcome["target"], 3);
        let got = phone
            .pump(|g| g.last().is_some_and(|m| m == "strength-1+2+3"))
            .await;
        assert_eq!(got, ["strength-1+2+1", "strength-1+2+2", "strength-1+2+3"]);
        let view = invoke(&w, "strength_state", json!({})).unwrap();
        assert_eq!(view["caps"], json!([3, 40]));

        let report = invoke(&w, "emergency_stop", json!({})).unwrap();
        assert_eq!(report["apps"], 1);
        let got = phone
            .pump(|g| {
                ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"]
                    .iter()
                    .all(|m| g.iter().any(|x| x == m))
            })
            .await;
        assert_eq!(
            &got[..4],
            ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"]
        );

        let err = invoke(&w, "set_strength", json!({ "channel": "A", "value": 2 })).unwrap_err();
        assert_eq!(err["kind"], "stopped");
        assert_eq!(
            invoke(&w, "strength_state", json!({})).unwrap()["latched"],
            true
        );

        invoke(&w, "rearm", json!({})).unwrap();
        invoke(&w, "set_strength", json!({ "channel": "A", "value": 1 })).unwrap();
        phone
            .pump(|g| g.last().is_some_and(|m| m == "strength-1+2+1"))
            .await;
    });
}

const SHARE: &str = "Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,50-0,100-1";

#[test]
fn an_imported_share_string_plays_its_exact_expansion_on_b() {
    let (_app, w) = app_in(&scratch("play"));
    let imported = invoke(&w, "parse_share", json!({ "text": SHARE })).unwrap();
    assert_eq!(imported["warnings"], json!([]));
    let expansion = invoke(
        &w,
        "expand_pattern",
        json!({ "pattern": imported["pattern"] }),
    )
    .unwrap();
    assert_eq!(expansion["share"], SHARE);
    // The core decodes the frames for the preview: {freq: [4], intensity: [4]} each.
    let frames: Vec<Value> = serde_json::from_value(expansion["frames"].clone()).unwrap();
    assert_eq!(frames[0]["freq"].as_array().unwrap().len(), 4);

    let bad = invoke(&w, "parse_share", json!({ "text": "hello" })).unwrap_err();
    assert_eq!(bad["kind"], "invalid_share");
    assert_eq!(bad["params"]["reason"], "missing_prefix");

    let repaired = invoke(
        &w,
        "parse_share",
        json!({ "text": "Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,50-0,100-1+section+" }),
    )
    .unwrap();
    let warnings = repaired["warnings"].as_array().unwrap();
    assert!(!warnings.is_empty(), "{repaired}");
    assert!(
        warnings.iter().all(
            |w| w["kind"].as_str().unwrap().starts_with("share_") && w["params"]["at"].is_u64()
        ),
        "{warnings:?}"
    );

    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&info).await;
        invoke(
            &w,
            "play_waveform",
            json!({ "channels": ["B"], "pattern": imported["pattern"], "repeat": "once" }),
        )
        .unwrap();
        let got = phone
            .pump(|g| g.iter().any(|m| m.starts_with("pulse-B:")))
            .await;
        let pulse = got.iter().find(|m| m.starts_with("pulse-B:")).unwrap();
        let sent: Vec<String> =
            serde_json::from_str(pulse.strip_prefix("pulse-B:").unwrap()).unwrap();
        let sent: Vec<Value> = sent
            .iter()
            .map(|hex| {
                let f = dglab_core::Frame::from_hex(hex).unwrap();
                json!({ "freq": f.freq(), "intensity": f.intensity() })
            })
            .collect();
        assert_eq!(sent, frames);

        invoke(&w, "emergency_stop", json!({})).unwrap();
        let err = invoke(
            &w,
            "play_waveform",
            json!({ "channels": ["A", "B"], "pattern": imported["pattern"], "repeat": "loop" }),
        )
        .unwrap_err();
        assert_eq!(err["kind"], "stopped");
    });
}

#[test]
fn presets_are_saved_renamed_deleted_and_survive_a_restart() {
    let dir = scratch("presets");
    let pattern = {
        let (_app, w) = app_in(&dir);
        let pattern =
            invoke(&w, "parse_share", json!({ "text": SHARE })).unwrap()["pattern"].clone();
        let list = invoke(
            &w,
            "save_preset",
            json!({ "name": "Mine", "pattern": pattern, "overwrite": false }),
        )
        .unwrap();
        assert!(list
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Mine" && p["builtin"] == false));
        let again = invoke(
            &w,
            "save_preset",
            json!({ "name": "Mine", "pattern": pattern, "overwrite": false }),
        )
        .unwrap_err();
        assert_eq!(again["kind"], "exists");
        invoke(&w, "rename_preset", json!({ "from": "Mine", "to": "Kept" })).unwrap();
        invoke(
            &w,
            "save_preset",
            json!({ "name": "Gone", "pattern": pattern, "overwrite": true }),
        )
        .unwrap();
        invoke(&w, "delete_preset", json!({ "name": "Gone" })).unwrap();
        let builtin = invoke(&w, "delete_preset", json!({ "name": "呼吸" })).unwrap_err();
        assert_eq!(builtin["kind"], "read_only");
        pattern
    };
    // A new app over the same folders: the relay, gate and store start afresh.
    let (_app, w) = app_in(&dir);
    let names: Vec<String> = invoke(&w, "list_presets", json!({}))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["builtin"] == false)
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Kept"]);
    assert_eq!(
        invoke(&w, "get_preset", json!({ "name": "Kept" })).unwrap()["pattern"],
        pattern
    );
}

#[test]
fn settings_are_validated_saved_and_say_when_a_restart_is_needed() {
    let dir = scratch("settings");
    let (_app, w) = app_in(&dir);
    let view = invoke(&w, "get_settings", json!({})).unwrap();
    assert_eq!(view["restart_needed"], false);
    let mut s = view["settings"].clone();
    s["capA"] = json!(250);
    assert_eq!(
        invoke(&w, "save_settings", json!({ "settings": s })).unwrap_err()["kind"],
        "invalid_setting"
    );
    s["capA"] = json!(12);
    s["heartbeatSecs"] = json!(30);
    s["language"] = json!("zh");
    let saved = invoke(&w, "save_settings", json!({ "settings": s })).unwrap();
    assert_eq!(saved["restart_needed"], true);
    assert_eq!(
        invoke(&w, "strength_state", json!({})).unwrap()["caps"][0],
        12,
        "caps apply at once"
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config/settings.json")).unwrap())
            .unwrap();
    assert_eq!(file["language"], "zh");
    assert_eq!(file["capA"], 12);
}

const STOP: [&str; 4] = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"];

/// Polls `cmd` until `ok` holds for its answer (events reach the shell's views
/// asynchronously).
fn until(
    w: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = invoke(w, cmd, json!({})).unwrap();
        if ok(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{cmd} never became what was expected; last: {last}");
}

#[test]
fn stop_with_no_phone_latches_and_says_no_app() {
    let (_app, w) = app_in(&scratch("stop-alone"));
    assert_eq!(invoke(&w, "stop_status", json!({})).unwrap(), Value::Null);
    let report = invoke(&w, "emergency_stop", json!({})).unwrap();
    assert_eq!(report["apps"], 0);
    assert_eq!(
        invoke(&w, "strength_state", json!({})).unwrap()["latched"],
        true
    );
    let view = until(&w, "stop_status", |v| !v.is_null());
    assert_eq!(view["apps"], json!([]));
    assert_eq!(view["confirmed_unnamed"], 0);
    assert_eq!(view["cause"], "stop");
    invoke(&w, "rearm", json!({})).unwrap();
    until(&w, "stop_status", Value::is_null);
}

#[test]
fn a_stop_waits_for_the_apps_zero_report_resends_until_then_and_lists_the_app() {
    let (_app, w) = app_in(&scratch("stop-confirm"));
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&info).await;
        phone.pump(|_| true).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        invoke(&w, "set_strength", json!({ "channel": "A", "value": 2 })).unwrap();
        phone
            .pump(|g| g.last().is_some_and(|m| m == "strength-1+2+2"))
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;

        invoke(&w, "emergency_stop", json!({})).unwrap();
        // A phone slow to answer: the stop arrives, no report yet.
        // (then the two players' own clears, in either order)
        let got = phone.take(6).await;
        assert_eq!(got[..4], STOP);
        assert!(got[4..].iter().all(|m| m.starts_with("clear-")), "{got:?}");
        let view = until(&w, "stop_status", |v| v["apps"][0]["state"] == "waiting");
        assert_eq!(view["apps"][0]["app"], info_app(&w));
        // Not confirmed: sent again about a second later.
        let again = tokio::time::timeout(Duration::from_secs(3), phone.take(4))
            .await
            .expect("the stop is re-sent");
        assert_eq!(again, STOP);
        // The App reports 0/0: confirmed.
        phone.strength = [0, 0];
        phone.report().await;
        let view = until(&w, "stop_status", |v| v["apps"][0]["state"] == "confirmed");
        assert_eq!(view["apps"].as_array().unwrap().len(), 1);
        let recent = invoke(&w, "recent_safety_events", json!({})).unwrap();
        let kinds: Vec<&str> = recent
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["notice"]["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"emergency_stop"), "{kinds:?}");
        assert!(kinds.contains(&"stop_confirmed"), "{kinds:?}");
        assert!(recent[0]["at_ms"].as_u64().unwrap() > 1_600_000_000_000);
    });
}

/// The App paired with our terminal, from the gate's view.
fn info_app(w: &tauri::WebviewWindow<tauri::test::MockRuntime>) -> Value {
    invoke(w, "strength_state", json!({})).unwrap()["app"].clone()
}

#[test]
fn an_app_that_leaves_before_confirming_is_shown_as_left() {
    let (_app, w) = app_in(&scratch("stop-left"));
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&info).await;
        phone.pump(|_| true).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        invoke(&w, "set_strength", json!({ "channel": "B", "value": 1 })).unwrap();
        phone
            .pump(|g| g.last().is_some_and(|m| m == "strength-2+2+1"))
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        invoke(&w, "emergency_stop", json!({})).unwrap();
        assert_eq!(phone.take(4).await, STOP);
        until(&w, "stop_status", |v| v["apps"][0]["state"] == "waiting");
        drop(phone);
        until(&w, "stop_status", |v| v["apps"][0]["state"] == "left");
    });
}

#[test]
fn follow_soft_limit_is_the_gates_refused_while_stopped_and_switched_off_by_a_stop() {
    let (_app, w) = app_in(&scratch("follow"));
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&info).await;
        phone.limit = [100, 2];
        phone.report().await;
        phone.pump(|_| true).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let view = invoke(
            &w,
            "set_follow_soft_limit",
            json!({ "channel": "B", "on": true }),
        )
        .unwrap();
        assert_eq!(view["channels"][1]["follow"], true);
        assert_eq!(view["channels"][0]["follow"], false);
        phone
            .pump(|g| g.last().is_some_and(|m| m == "strength-2+2+2"))
            .await;

        invoke(&w, "emergency_stop", json!({})).unwrap();
        let view = invoke(&w, "strength_state", json!({})).unwrap();
        assert_eq!(
            view["channels"][1]["follow"], false,
            "a stop switches it off"
        );
        let err = invoke(
            &w,
            "set_follow_soft_limit",
            json!({ "channel": "B", "on": true }),
        )
        .unwrap_err();
        assert_eq!(err["kind"], "stopped");

        // Re-arm restores nothing: following stays off, targets stay 0, nothing is sent up.
        invoke(&w, "rearm", json!({})).unwrap();
        let view = invoke(&w, "strength_state", json!({})).unwrap();
        assert_eq!(view["channels"][1]["follow"], false);
        assert_eq!(view["channels"][1]["target"], 0);
        assert_eq!(view["channels"][0]["target"], 0);
        phone.limit = [100, 5];
        phone.report().await;
        let late = tokio::time::timeout(Duration::from_millis(1500), phone.take(1)).await;
        if let Ok(got) = late {
            assert!(
                got.iter()
                    .all(|m| !m.starts_with("strength-") || m.ends_with("+0")),
                "{got:?}"
            );
        }
    });
}

#[test]
fn settings_changes_at_the_same_time_never_lose_one_another() {
    let dir = scratch("settings-race");
    let (_app, w) = app_in(&dir);
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    let port = info["port"]["actual"].as_u64().unwrap();
    let typed = format!("ws://127.0.0.1:{port}");
    let choice = |i: u8| i.is_multiple_of(2).then(|| typed.clone());
    const ROUNDS: u8 = 100;
    // Each round the caps and the pairing address are saved at the same moment; after the
    // round both changes must be in memory and in the file.
    let go = std::sync::Barrier::new(3);
    let done = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 1..=ROUNDS {
                go.wait();
                let _ = invoke(&w, "set_caps", json!({ "capA": i, "capB": i }));
                done.wait();
            }
        });
        s.spawn(|| {
            for i in 1..=ROUNDS {
                go.wait();
                let _ = invoke(&w, "set_pairing_address", json!({ "choice": choice(i) }));
                done.wait();
            }
        });
        // Mismatches are collected, not asserted here: a panic would leave the two
        // threads waiting at the barrier.
        let mut lost = Vec::new();
        for i in 1..=ROUNDS {
            go.wait();
            done.wait();
            let file: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("config/settings.json")).unwrap(),
            )
            .unwrap();
            let view = invoke(&w, "get_settings", json!({})).unwrap()["settings"].clone();
            for s in [&file, &view] {
                if s["capA"] != i || s["preferredAddress"] != json!(choice(i)) {
                    lost.push(format!("round {i}: {s}"));
                }
            }
        }
        assert!(lost.is_empty(), "{} lost updates: {lost:?}", lost.len());
    });
}
