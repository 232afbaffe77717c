//! The emergency stop as the process's last act: a SIGTERM and a panic each send 0/0 and
//! both clears to the paired App first. Its own test binary: the signal goes to this very
//! process, and the panic hook is process-wide.

mod common;

use common::{app_in, invoke, scratch, FakeApp};
use serde_json::json;
use std::time::Duration;

const STOP: [&str; 4] = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"];

/// Reads until the stop's four frames have arrived in order (the players' own clears may
/// follow or precede them).
async fn until_stop(phone: &mut FakeApp) -> Vec<String> {
    let mut got: Vec<String> = Vec::new();
    loop {
        got.extend(phone.take(1).await);
        if got.windows(4).any(|w| w == STOP) {
            return got;
        }
        assert!(got.len() < 20, "no stop in {got:?}");
    }
}

#[cfg(unix)]
#[test]
fn sigterm_and_a_panic_each_stop_the_app_before_anything_else() {
    let (app, w) = app_in(&scratch("last-resort"));
    let info = invoke(&w, "pairing_info", json!({})).unwrap();
    let (exit_tx, exit_rx) = std::sync::mpsc::channel();
    dglab_hub_lib::last_resort::stop_on_signals(app.handle(), move |_| {
        let _ = exit_tx.send(());
    });
    tauri::async_runtime::block_on(async {
        let mut phone = FakeApp::pair(&info).await;
        phone.pump(|_| true).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        invoke(&w, "set_strength", json!({ "channel": "A", "value": 2 })).unwrap();
        phone
            .pump(|g| g.last().is_some_and(|m| m == "strength-1+2+2"))
            .await;

        let kill = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        until_stop(&mut phone).await;
        assert_eq!(
            invoke(&w, "strength_state", json!({})).unwrap()["latched"],
            true
        );
        exit_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("after the stop, the app is asked to exit");

        // Re-armed and raised again; then a bug panics on some thread.
        invoke(&w, "rearm", json!({})).unwrap();
        phone.strength = [0, 0];
        phone.report().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        invoke(&w, "set_strength", json!({ "channel": "B", "value": 1 })).unwrap();
        phone
            .pump(|g| g.last().is_some_and(|m| m == "strength-2+2+1"))
            .await;
        let crashed = std::thread::spawn(|| panic!("a bug somewhere")).join();
        assert!(crashed.is_err());
        until_stop(&mut phone).await;
        assert_eq!(
            invoke(&w, "strength_state", json!({})).unwrap()["latched"],
            true
        );
    });
}
