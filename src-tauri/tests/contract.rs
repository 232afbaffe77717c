//! The bridge contract, from the shell's side: `tests/ui/contract.json` must describe exactly
//! what the shell offers — every registered command with the argument names it accepts and
//! the keys it answers with, every event with the keys of its payload, every `{kind}` the
//! window may receive and the worded params' values, and the real `pattern_limits` answer.
//! The node tests (`tests/ui/contract.test.js`, `i18n.test.js`) hold `ui/js/backend.js` and
//! the wording table against the same file, so a rename on either side fails one of them.
//!
//! Each command is invoked here on the mock runtime with the argument names of the file,
//! against a live relay and a simulated phone; any answer that is neither a success nor a
//! `{kind, params}` (Tauri's own rejection of the arguments) fails the test.
//! After a deliberate change, rewrite the file with `DGLAB_UPDATE_CONTRACT=1 cargo test -p
//! dglab-hub --test contract` and review its diff.

mod common;

use common::{app_in, invoke, scratch, FakeApp};
use dglab_hub_lib::events::EVENT_NAMES;
use dglab_hub_lib::notice::Kind;
use dglab_hub_lib::COMMANDS;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::Listener;

const CONTRACT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/ui/contract.json");
const SHARE: &str = "Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,50-0,100-1";

/// The keys of an answer or payload: an object's keys, or `[]`/`null` for the rest.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => json!(m.keys().collect::<Vec<_>>()),
        Value::Array(items) => json!([items.first().map(shape).unwrap_or(Value::Null)]),
        _ => Value::Null,
    }
}

#[test]
fn the_shell_offers_exactly_what_the_contract_file_says() {
    let (app, w) = app_in(&scratch("contract"));

    // Every payload each event carried while the commands below ran.
    let seen: Arc<Mutex<BTreeMap<&'static str, Vec<Value>>>> = Arc::default();
    for name in EVENT_NAMES {
        let seen = Arc::clone(&seen);
        app.listen_any(name, move |e| {
            let payload: Value = serde_json::from_str(e.payload()).unwrap();
            seen.lock().unwrap().entry(name).or_default().push(payload);
        });
    }

    let pattern = invoke(&w, "parse_share", json!({ "text": SHARE })).unwrap()["pattern"].clone();
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    // The order matters: strength before the stop, re-arm after it, a preset saved before it
    // is renamed and deleted.
    let calls: Vec<(&str, Value)> = vec![
        ("app_info", json!({})),
        ("recent_log", json!({})),
        ("open_log_folder", json!({})),
        ("list_connections", json!({})),
        ("pairing_info", json!({})),
        // Started before the strength commands, so their frames reach it.
        ("start_inspector", json!({})),
        ("phone_check", json!({})),
        // Loopback only: tests never connect to another address.
        ("run_doctor", json!({ "addresses": ["127.0.0.1"] })),
        ("phone_attempts", json!({})),
        ("strength_state", json!({})),
        ("set_caps", json!({ "capA": 50, "capB": 60 })),
        ("set_strength", json!({ "channel": "A", "value": 2 })),
        (
            "step_strength",
            json!({ "channel": "B", "direction": "up" }),
        ),
        ("renew_lease", json!({})),
        ("pattern_limits", json!({})),
        ("expand_pattern", json!({ "pattern": pattern })),
        ("parse_share", json!({ "text": SHARE })),
        (
            "play_waveform",
            json!({ "channels": ["A"], "pattern": pattern, "repeat": "once" }),
        ),
        ("stop_waveform", json!({ "channels": ["A", "B"] })),
        (
            "set_follow_soft_limit",
            json!({ "channel": "B", "on": true }),
        ),
        ("emergency_stop", json!({})),
        ("stop_status", json!({})),
        ("recent_safety_events", json!({})),
        ("rearm", json!({})),
        ("list_presets", json!({})),
        (
            "save_preset",
            json!({ "name": "Mine", "pattern": pattern, "overwrite": false }),
        ),
        ("get_preset", json!({ "name": "Mine" })),
        ("rename_preset", json!({ "from": "Mine", "to": "Kept" })),
        ("delete_preset", json!({ "name": "Kept" })),
        ("get_settings", json!({})),
        (
            "save_settings",
            json!({ "settings": invoke(&w, "get_settings", json!({})).unwrap()["settings"] }),
        ),
        (
            "set_pairing_address",
            json!({ "choice": "wss://relay.example.org/dglab/" }),
        ),
        ("stop_inspector", json!({})),
    ];

    let mut commands = Map::new();
    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&info).await;
        phone.pump(|_| true).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (name, args) in &calls {
            let answer = match invoke(&w, name, args.clone()) {
                Ok(v) => v,
                // The mock app has no opener plugin (nothing may pop up a file manager in a
                // test): the refusal is the worded `io` the window shows.
                Err(e) if *name == "open_log_folder" && e["kind"] == "open_failed" => Value::Null,
                Err(e) => panic!("{name} {args}: refused with {e}"),
            };
            let arg_names: Vec<&String> = args.as_object().unwrap().keys().collect();
            commands.insert(
                (*name).to_owned(),
                json!({ "args": arg_names, "returns": shape(&answer) }),
            );
            // Let the phone answer (strength reports) and the players report progress.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        // An optional argument with a wrong name would pass as `None`: this one took effect.
        let typed = invoke(&w, "pairing_info", json!({})).unwrap();
        assert!(
            typed["url"]
                .as_str()
                .unwrap()
                .contains("wss://relay.example.org/dglab/"),
            "{typed}"
        );
        // A refusal is `{kind, params}` and nothing else.
        let err = invoke(&w, "get_preset", json!({ "name": "nobody" })).unwrap_err();
        assert_eq!(shape(&err), json!(["kind", "params"]));
        drop(phone);
        tokio::time::sleep(Duration::from_millis(200)).await;

        // "Try without a phone" (issue 14): with the phone gone, the virtual App pairs.
        for (name, args) in [
            ("start_virtual_app", json!({ "softA": 50, "softB": 60 })),
            ("virtual_app_state", json!({})),
            (
                "set_virtual_soft_limits",
                json!({ "softA": 40, "softB": 60 }),
            ),
            ("press_virtual_feedback", json!({ "button": 3 })),
            ("stop_virtual_app", json!({})),
        ] {
            let answer = invoke(&w, name, args.clone())
                .unwrap_or_else(|e| panic!("{name} {args}: refused with {e}"));
            let arg_names: Vec<&String> = args.as_object().unwrap().keys().collect();
            commands.insert(
                name.to_owned(),
                json!({ "args": arg_names, "returns": shape(&answer) }),
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }

        // The game API's panel (issue 15 point 5), on a free loopback port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        for (name, args) in [
            ("games_state", json!({})),
            (
                "set_games_api",
                json!({ "enabled": true, "port": port, "lan": false }),
            ),
            ("new_games_token", json!({})),
            ("set_game_output", json!({ "on": true })),
        ] {
            let answer = invoke(&w, name, args.clone())
                .unwrap_or_else(|e| panic!("{name} {args}: refused with {e}"));
            let arg_names: Vec<&String> = args.as_object().unwrap().keys().collect();
            commands.insert(
                name.to_owned(),
                json!({ "args": arg_names, "returns": shape(&answer) }),
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // DG-LAB App 4.x (issue 13 point 4): the 4.x code, then a 4.x App on it fills the
        // V4 table (and its event).
        let v4 = invoke(&w, "set_pairing_app", json!({ "pairingApp": "v4" })).unwrap();
        commands.insert(
            "set_pairing_app".to_owned(),
            json!({ "args": ["pairingApp"], "returns": shape(&v4) }),
        );
        let port = v4["port"]["actual"].as_u64().unwrap();
        let tid = v4["url"]
            .as_str()
            .unwrap()
            .rsplit("%3D")
            .next()
            .unwrap()
            .to_owned();
        let (mut app4, _) =
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/?tid={tid}"))
                .await
                .unwrap();
        let snapshot = json!({"type": "message", "data": {"t": "ev", "ev": "devices.snapshot",
            "devices": [{"slotId": "s1", "name": "Coyote", "type": "COYOTE_030"}]}});
        futures_util::SinkExt::send(
            &mut app4,
            tokio_tungstenite::tungstenite::Message::text(snapshot.to_string()),
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let table = invoke(&w, "v4_apps", json!({})).unwrap();
        assert_eq!(
            table[0]["apps"][0]["devices"][0]["slot_id"], "s1",
            "{table}"
        );
        commands.insert(
            "v4_apps".to_owned(),
            json!({ "args": [], "returns": shape(&table) }),
        );
        let app4_id = table[0]["apps"][0]["id"].clone();
        let args = json!({ "app": app4_id, "slot": "s1", "channel": "A", "value": 3 });
        let level = invoke(&w, "v4_set_strength", args.clone()).unwrap();
        commands.insert(
            "v4_set_strength".to_owned(),
            json!({ "args": args.as_object().unwrap().keys().collect::<Vec<_>>(), "returns": shape(&level) }),
        );
    });

    let registered: Vec<&str> = commands.keys().map(String::as_str).collect();
    let mut listed = COMMANDS.to_vec();
    listed.sort_unstable();
    assert_eq!(
        registered, listed,
        "every registered command is exercised once"
    );

    let seen = seen.lock().unwrap();
    let mut events = Map::new();
    for name in EVENT_NAMES {
        let payloads = seen
            .get(name)
            .unwrap_or_else(|| panic!("no {name} event was emitted"));
        // The keys every payload of this event carries.
        let mut common: Option<Vec<String>> = None;
        for p in payloads {
            let keys: Vec<String> = match p {
                Value::Object(m) => m.keys().cloned().collect(),
                Value::Array(rows) => rows
                    .first()
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            common = Some(match common {
                None => keys,
                Some(c) => c.into_iter().filter(|k| keys.contains(k)).collect(),
            });
        }
        events.insert(
            name.to_owned(),
            json!({ "keys": common.unwrap_or_default() }),
        );
    }
    drop(seen);

    let actual = json!({
        "commands": commands,
        "events": events,
        "kinds": Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "worded_params": dglab_hub_lib::error::worded_params()
            .iter()
            .map(|(name, values)| ((*name).to_owned(), json!(values)))
            .collect::<Map<_, _>>(),
        "pattern_limits": dglab_hub_lib::commands::waveform::pattern_limits(),
    });
    let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
    if std::env::var_os("DGLAB_UPDATE_CONTRACT").is_some() {
        std::fs::write(CONTRACT, &text).unwrap();
        return;
    }
    let file = std::fs::read_to_string(CONTRACT).unwrap_or_default();
    let file: Value = serde_json::from_str(&file).unwrap_or(Value::Null);
    for part in [
        "commands",
        "events",
        "kinds",
        "worded_params",
        "pattern_limits",
    ] {
        assert_eq!(
            file[part], actual[part],
            "tests/ui/contract.json's {part:?} differs from the shell; after a deliberate change \
             run DGLAB_UPDATE_CONTRACT=1 cargo test -p dglab-hub --test contract and review the diff"
        );
    }
}
