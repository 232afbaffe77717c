//! The hub's caps and stop bind every App on the relay, whoever drives it: here the App is
//! paired with another terminal on the relay (a socket, as a game mod or a script would be),
//! not with our guarded terminal. Real sockets on 127.0.0.1.

mod common;

use common::{pair, start_relay, Client};
use dglab_core::safety::{SafetyConfig, SafetyHub};
use serde_json::json;
use std::time::Duration;

const ZERO_CLEAR: [&str; 4] = ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"];

fn hub(cap_a: u8, rate: u16) -> SafetyHub {
    SafetyHub::new(SafetyConfig {
        cap_a,
        cap_b: 40,
        max_rise_per_sec: rate,
        watchdog: None,
    })
    .unwrap()
}

async fn msg(c: &mut Client) -> String {
    let v = c.recv().await;
    assert_eq!(v["type"], "msg", "{v}");
    v["message"].as_str().unwrap().to_owned()
}

/// The terminal sends `m` to its App.
async fn send(term: &mut Client, app: &Client, m: &str) {
    let (t, a) = (term.id.clone(), app.id.clone());
    term.msg(&t, &a, m).await;
}

#[tokio::test]
async fn another_terminals_strength_is_capped_and_ramped() {
    let relay = start_relay().await;
    let hub = hub(5, 200);
    hub.guard_relay(&relay);
    let (mut term, mut app) = pair(&relay).await;
    // It asks 100 again and again: the App climbs +1 per request to the cap of 5, never more.
    let mut seen = vec![];
    for _ in 0..8 {
        send(&mut term, &app, "strength-1+2+100").await;
        let m = msg(&mut app).await;
        seen.push(m.rsplit('+').next().unwrap().parse::<u8>().unwrap());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 5, 5, 5]);
    // A +1 at the cap is refused, and the terminal hears why.
    send(&mut term, &app, "strength-1+1+1").await;
    assert_eq!(term.recv().await["message"], "423");
    // Lowering passes at once.
    send(&mut term, &app, "strength-1+2+2").await;
    assert_eq!(msg(&mut app).await, "strength-1+2+2");
    relay.shutdown().await;
}

#[tokio::test]
async fn stop_reaches_another_terminals_app_first_and_holds_it() {
    let relay = start_relay().await;
    let hub = hub(40, 200);
    hub.guard_relay(&relay);
    let (mut term, mut app) = pair(&relay).await;
    send(&mut term, &app, "strength-1+2+1").await;
    assert_eq!(msg(&mut app).await, "strength-1+2+1");

    let report = hub.emergency_stop();
    assert_eq!(report.apps, 1, "{report:?}");
    for want in ZERO_CLEAR {
        assert_eq!(msg(&mut app).await, want);
    }
    // While latched, nothing above 0 and no pulse reaches it; the sender hears 423.
    for m in [
        "strength-1+2+3",
        "strength-2+1+1",
        "pulse-A:[\"0A0A0A0A64646464\"]",
    ] {
        send(&mut term, &app, m).await;
        let v = term.recv().await;
        assert_eq!(v["message"], "423", "{m}: {v}");
    }
    // Clearing and 0 are always allowed.
    send(&mut term, &app, "clear-2").await;
    assert_eq!(msg(&mut app).await, "clear-2");
    // The phone's own dial, while stopped: brought back to 0 at its report.
    let (t, a) = (term.id.clone(), app.id.clone());
    app.msg(&t, &a, "strength-7+0+200+200").await;
    assert_eq!(msg(&mut app).await, "strength-1+2+0");
    // Re-armed: it may rise again, from where it is.
    hub.rearm();
    send(&mut term, &app, "strength-1+2+1").await;
    assert_eq!(msg(&mut app).await, "strength-1+2+1");
    relay.shutdown().await;
}

#[tokio::test]
async fn a_phone_dialled_above_the_cap_is_brought_back_to_it() {
    let relay = start_relay().await;
    let hub = hub(10, 200);
    hub.guard_relay(&relay);
    let (term, mut app) = pair(&relay).await;
    let (t, a) = (term.id.clone(), app.id.clone());
    app.msg(&t, &a, "strength-80+3+200+200").await;
    assert_eq!(msg(&mut app).await, "strength-1+2+10");
    relay.shutdown().await;
}

#[tokio::test]
async fn an_unconfirmed_stop_is_sent_again_until_the_app_reports_zero() {
    let relay = start_relay().await;
    let hub = hub(40, 200);
    hub.guard_relay(&relay);
    let (term, mut app) = pair(&relay).await;
    let report = hub.emergency_stop();
    assert_eq!(report.unconfirmed.len(), 1, "{report:?}");
    let mut got = vec![];
    for _ in 0..8 {
        got.push(msg(&mut app).await);
    }
    assert_eq!(got[..4], ZERO_CLEAR);
    assert_eq!(got[4..], ZERO_CLEAR, "not sent again");
    let (t, a) = (term.id.clone(), app.id.clone());
    app.msg(&t, &a, "strength-0+0+200+200").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(hub.unconfirmed_stops().is_empty());
    app.silent_for(Duration::from_millis(1500)).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn without_the_policy_the_relay_relays_as_before() {
    let relay = start_relay().await;
    let (mut term, mut app) = pair(&relay).await;
    send(&mut term, &app, "strength-1+2+150").await;
    assert_eq!(msg(&mut app).await, "strength-1+2+150");
    let _ = json!(null);
    relay.shutdown().await;
}
