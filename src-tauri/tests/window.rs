//! What the window is told at start (issue 12), on the mock runtime with real files and
//! sockets: why the port changed and that the fallback is kept, presets set aside by name,
//! the theme setting, the recent log.

mod common;

use common::{app_in, invoke, scratch};
use dglab_hub_lib::state::{AppState, Services};
use dglab_hub_lib::{build_app, start_services};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

/// The app as `run()` starts it: the port from the settings, not a test override.
fn app_with_settings_port(dir: &Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = build_app(mock_builder())
        .build(mock_context(noop_assets()))
        .expect("mock app builds");
    let services = Services {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
        port: None,
        v4_port: Some(0),
        watchdog: None,
    };
    start_services(app.handle(), services).expect("services start");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("mock window");
    (app, window)
}

fn saved_settings(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config/settings.json")).unwrap())
        .unwrap()
}

#[test]
fn a_busy_port_is_said_and_the_fallback_is_kept_for_the_next_start() {
    let dir = scratch("fallback-port");
    let blocker = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let busy = blocker.local_addr().unwrap().port();
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(
        dir.join("config/settings.json"),
        json!({ "port": busy }).to_string(),
    )
    .unwrap();

    let (app, w) = app_with_settings_port(&dir);
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    assert_eq!(info["port"]["requested"], busy);
    assert_eq!(info["port"]["reason"], "busy");
    let fallback = info["port"]["actual"].as_u64().unwrap();
    assert_ne!(fallback, u64::from(busy));
    // The settings say which port it fell back to; the user's port is unchanged.
    let saved = saved_settings(&dir);
    assert_eq!(saved["fallbackPort"], fallback, "{saved}");
    assert_eq!(saved["port"], busy);
    let view = invoke(&w, "get_settings", json!({})).unwrap();
    assert_eq!(view["settings"]["fallbackPort"], fallback);
    tauri::async_runtime::block_on(app.state::<AppState>().relay.shutdown());
    drop(w);
    drop(app);

    // Next start, the preferred port still busy: the same port, so the same QR code.
    let (_app, w) = app_with_settings_port(&dir);
    let again = invoke(&w, "pairing_info", json!({})).unwrap();
    assert_eq!(again["port"]["actual"], fallback, "{again}");
    assert!(again["url"]
        .as_str()
        .unwrap()
        .contains(&format!(":{fallback}/")));
    drop(blocker);
}

#[test]
fn presets_wrong_on_their_own_are_set_aside_and_named_the_rest_stay() {
    let dir = scratch("set-aside");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("data/presets.json"),
        json!({ "version": 1, "presets": [
            { "name": "Mine", "body": { "frames": ["0A0A0A0A64646464"] } },
            { "name": "Broken", "body": { "pattern": { "rest": 101, "playRate": 1, "balance": 8, "sections": [] } } },
        ]})
        .to_string(),
    )
    .unwrap();
    let (_app, w) = app_in(&dir);
    let info = invoke(&w, "app_info", json!({})).unwrap();
    let notice = info["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "presets_set_aside")
        .unwrap_or_else(|| panic!("no presets_set_aside in {info}"));
    assert_eq!(notice["params"]["names"], "Broken");
    assert!(notice["params"]["moved_to"]
        .as_str()
        .unwrap()
        .contains("presets.json.rejected-"));
    let list = invoke(&w, "list_presets", json!({})).unwrap();
    let mine: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["builtin"] == false)
        .map(|p| &p["name"])
        .collect();
    assert_eq!(mine, [&json!("Mine")]);
}

#[test]
fn the_theme_is_a_setting_with_three_values() {
    let dir = scratch("theme");
    let (_app, w) = app_in(&dir);
    let mut s = invoke(&w, "get_settings", json!({})).unwrap()["settings"].clone();
    assert_eq!(s["theme"], "system");
    s["theme"] = json!("light");
    let view = invoke(&w, "save_settings", json!({ "settings": s })).unwrap();
    assert_eq!(view["settings"]["theme"], "light");
    s["theme"] = json!("blue");
    let err = invoke(&w, "save_settings", json!({ "settings": s })).unwrap_err();
    assert_eq!(err["kind"], "invalid_theme");
}

#[test]
fn the_recent_log_is_a_list_of_lines_and_opening_without_an_opener_is_worded() {
    let dir = scratch("log");
    let (_app, w) = app_in(&dir);
    let lines = invoke(&w, "recent_log", json!({})).unwrap();
    assert!(lines.is_array(), "{lines}");
    let err = invoke(&w, "open_log_folder", json!({})).unwrap_err();
    assert_eq!(err["kind"], "open_failed");
}
