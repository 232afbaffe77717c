//! A waveform player on a guarded terminal: every pulse passes the safety gate, and the
//! emergency stop stops the player. A live relay on 127.0.0.1 and a simulated App; every
//! check is on what the App receives.

mod common;

use common::{start_relay, Client};
use dglab_core::player::{PlayState, Player, PlayerConfig, PlayerError, Repeat};
use dglab_core::relay::RelayHandle;
use dglab_core::safety::{GuardedEvents, GuardedTerminal, SafetyConfig, SafetyError, SafetyHub};
use dglab_core::{Channel, Frame, Terminal, TerminalEvent};
use futures_util::StreamExt;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Caps 40/40, 10 per second, no watchdog (nobody here renews a lease).
fn hub() -> SafetyHub {
    SafetyHub::new(SafetyConfig {
        watchdog: None,
        ..SafetyConfig::default()
    })
    .unwrap()
}

/// A guarded local terminal with an App bound to it.
async fn paired(relay: &RelayHandle, hub: &SafetyHub) -> (GuardedTerminal, GuardedEvents, Client) {
    let (raw, raw_events) = Terminal::local(relay);
    let (term, mut ev) = hub.guard(raw, raw_events);
    let terminal = term.id().to_string();
    let mut app = Client::connect(relay, &terminal).await;
    let me = app.id.clone();
    app.send(json!({"type":"bind","clientId":terminal,"targetId":me,"message":"DGLAB"}))
        .await;
    assert_eq!(app.recv().await["message"], "200");
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), ev.recv())
            .await
            .expect("no Paired event")
            .expect("event stream ended");
        if let TerminalEvent::Paired { .. } = e {
            break;
        }
    }
    // Every pairing starts with both channels at 0 and both queues empty.
    for want in ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"] {
        assert_eq!(next_msg(&mut app).await, want);
    }
    // Like the real App, it reports its levels once bound, so a later stop is confirmed
    // at once (an App that never reports gets the stop again every second).
    app.msg(&terminal, &me, "strength-0+0+200+200").await;
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), ev.recv())
            .await
            .expect("no Strength event")
            .expect("event stream ended");
        if let TerminalEvent::Strength(_) = e {
            break;
        }
    }
    (term, ev, app)
}

/// The next `msg` the App gets from the terminal.
async fn next_msg(app: &mut Client) -> String {
    let v = app.recv().await;
    assert_eq!(v["type"], "msg", "{v}");
    v["message"].as_str().unwrap().to_owned()
}

fn frames_of(m: &str, prefix: &str) -> Vec<Frame> {
    let list = m.strip_prefix(prefix).unwrap_or_else(|| panic!("{m}"));
    let hex: Vec<String> = serde_json::from_str(list).unwrap();
    hex.iter().map(|h| h.parse::<Frame>().unwrap()).collect()
}

fn pass() -> Vec<Frame> {
    (0..12)
        .map(|i| Frame::uniform(20, i * 8).unwrap())
        .collect()
}

#[tokio::test]
async fn emergency_stop_stops_a_guarded_player_and_the_latch_refuses_play() {
    let relay = start_relay().await;
    let hub = hub();
    let (term, _ev, mut app) = paired(&relay, &hub).await;
    let player = Player::spawn(term.clone(), Channel::A, PlayerConfig::default()).unwrap();
    let _registration = hub.register_stop(player.stop_hook());

    // Pulses pass the gate and arrive in order.
    let pass = pass();
    player.play(pass.clone(), Repeat::Loop).unwrap();
    let mut got = Vec::new();
    while got.len() < pass.len() {
        got.extend(frames_of(&next_msg(&mut app).await, "pulse-A:"));
    }
    assert_eq!(got[..pass.len()], pass[..]);

    // The stop: the App is zeroed and cleared, and the player is stopped by the time
    // emergency_stop returns (its hook ran synchronously).
    let report = hub.emergency_stop();
    assert_eq!((report.apps, report.stopped_hooks), (1, 1), "{report:?}");
    assert_eq!(player.progress().state, PlayState::Stopped);

    // Pulses already queued may arrive before the zeros; nothing but a clear after them.
    let mut m = next_msg(&mut app).await;
    while m.starts_with("pulse-A:") {
        m = next_msg(&mut app).await;
    }
    let mut stop = vec![m];
    for _ in 0..3 {
        stop.push(next_msg(&mut app).await);
    }
    assert_eq!(
        stop,
        ["strength-1+2+0", "strength-2+2+0", "clear-1", "clear-2"]
    );
    // The player's own stop sends one more clear-1 (harmless); never a pulse.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, app.ws.next()).await {
        if let Ok(Message::Text(t)) = frame {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v["message"], "clear-1", "after the stop: {v}");
        }
    }

    // Latched: play() fails at once and says why; the App hears nothing.
    assert_eq!(
        player.play(pass.clone(), Repeat::Loop),
        Err(PlayerError::Output(SafetyError::Latched))
    );
    assert_eq!(
        player.progress().state,
        PlayState::Failed(SafetyError::Latched)
    );
    assert_eq!(
        term.add_pulses(Channel::A, &pass[..1]),
        Err(SafetyError::Latched)
    );
    app.silent_for(Duration::from_millis(500)).await;

    // Re-armed, a new play() streams again (nothing was restored on its own).
    hub.rearm();
    app.silent_for(Duration::from_millis(200)).await;
    player.play(pass.clone(), Repeat::Once).unwrap();
    let m = next_msg(&mut app).await;
    assert_eq!(frames_of(&m, "pulse-A:")[0], pass[0]);
    player.stop().unwrap();
    relay.shutdown().await;
}

#[tokio::test]
async fn the_stop_hook_does_not_keep_a_dropped_player_alive() {
    let relay = start_relay().await;
    let hub = hub();
    let (term, _ev, mut app) = paired(&relay, &hub).await;
    // `term` stays alive here: the last guarded handle going would close the terminal.
    let player = Player::spawn(term.clone(), Channel::B, PlayerConfig::default()).unwrap();
    let registration = hub.register_stop(player.stop_hook());
    player.play(pass(), Repeat::Loop).unwrap();
    assert!(next_msg(&mut app).await.starts_with("pulse-B:"));
    // Dropping the last handle stops the player although the hub holds its hook.
    drop(player);
    loop {
        let m = next_msg(&mut app).await;
        if m == "clear-2" {
            break;
        }
        assert!(m.starts_with("pulse-B:"), "{m}");
    }
    app.silent_for(Duration::from_millis(500)).await;
    // The orphaned hook is a no-op; the stop itself still reaches the App.
    let report = hub.emergency_stop();
    assert_eq!((report.apps, report.stopped_hooks), (1, 1));
    drop(registration);
    relay.shutdown().await;
}

/// Lock ordering under load: emergency stops, re-arms, play() and stop() from plain
/// threads while both players' drivers send on the runtime's workers. A deadlock (a
/// hook waiting for a player lock whose holder waits for a gate lock the stop holds)
/// would hang threads; the timeout turns that into a failure. Checked to hang (and so
/// fail here) when the hub runs the hooks while still holding a gate's lock.
#[test]
fn emergency_stop_racing_playing_players_never_deadlocks() {
    // Its own runtime, waited on from this (non-worker) thread: a deadlock may block both
    // workers, and then neither a tokio timer nor the runtime's orderly shutdown would
    // ever finish. On failure the runtime is abandoned with `shutdown_background`.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (relay, hub, term, app) = rt.block_on(async {
        let relay = start_relay().await;
        let hub = hub();
        let (term, _ev, app) = paired(&relay, &hub).await;
        (relay, hub, term, app)
    });
    // The App reads everything, so the link never backs up.
    let pulses = Arc::new(AtomicU64::new(0));
    let counted = pulses.clone();
    let mut ws = app.ws;
    let reader = rt.spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                if t.contains("pulse-") {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });

    // No switch gap and a short lead: every play() is followed by a send at once.
    let config = PlayerConfig {
        lead: Duration::from_millis(100),
        top_up: Duration::from_millis(100),
        switch_gap: Duration::ZERO,
    };
    let players = {
        let _rt = rt.enter();
        [Channel::A, Channel::B].map(|ch| Player::spawn(term.clone(), ch, config).unwrap())
    };
    let registrations = players.clone().map(|p| hub.register_stop(p.stop_hook()));

    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let stopper = {
        let (hub, done, sent) = (hub.clone(), done.clone(), pulses.clone());
        std::thread::spawn(move || {
            // At least 400 rounds, and on until a pulse got through between a re-arm and
            // the next stop (a loaded machine may need more rounds for that), so the race
            // is always exercised; the 30 s limit below still catches a deadlock.
            let start = std::time::Instant::now();
            for i in 0u32.. {
                if i >= 400
                    && (sent.load(Ordering::Relaxed) > 0
                        || start.elapsed() > Duration::from_secs(20))
                {
                    break;
                }
                let report = hub.emergency_stop();
                assert_eq!(report.stopped_hooks, 2);
                if i.is_multiple_of(4) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                hub.rearm();
                std::thread::yield_now();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let players_for_thread = players.clone();
    let player_thread = std::thread::spawn(move || {
        let pass = pass();
        let mut n = 0u64;
        while !done.load(Ordering::SeqCst) {
            for p in &players_for_thread {
                // Latched or not, these must return promptly.
                let _ = p.play(pass.clone(), Repeat::Loop);
                if n.is_multiple_of(7) {
                    let _ = p.stop();
                }
            }
            n += 1;
            std::thread::yield_now();
        }
        n
    });
    std::thread::spawn(move || {
        stopper.join().unwrap();
        let rounds = player_thread.join().unwrap();
        let _ = tx.send(rounds);
    });
    let Ok(rounds) = rx.recv_timeout(Duration::from_secs(30)) else {
        // Leak everything that might touch a stuck lock while being dropped.
        std::mem::forget((players, registrations, term, hub, relay));
        rt.shutdown_background();
        panic!("deadlock (or a panicked stress thread): not finished within 30 s");
    };
    assert!(rounds > 0);

    // Last word: a stop leaves both players stopped and the App at 0.
    let report = hub.emergency_stop();
    assert_eq!((report.apps, report.stopped_hooks), (1, 2));
    for p in &players {
        assert_eq!(p.progress().state, PlayState::Stopped);
    }
    assert!(
        pulses.load(Ordering::Relaxed) > 0,
        "the players never sent: the race was not exercised"
    );
    drop(registrations);
    rt.block_on(relay.shutdown());
    reader.abort();
}
