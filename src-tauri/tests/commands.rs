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
