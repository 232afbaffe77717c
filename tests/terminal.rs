//! Local and remote terminals end to end, with a simulated App over real sockets.

mod common;

use common::{start_relay, start_relay_with, Client};
use dglab_core::protocol::command::{FeedbackButton, StrengthReport};
use dglab_core::relay::{RelayConfig, RelayHandle};
use dglab_core::terminal::{remote, Direction, TerminalError};
use dglab_core::{Channel, Frame, Terminal, TerminalEvent, TerminalEvents};
use serde_json::json;
use std::time::Duration;

async fn next(ev: &mut TerminalEvents) -> TerminalEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), ev.recv())
            .await
            .expect("no terminal event")
            .expect("event stream ended");
        if e != TerminalEvent::Heartbeat {
            return e;
        }
    }
}

/// Scans the pairing URL like the App: connect to the address in it, bind.
async fn scan(relay: &RelayHandle, term: &Terminal, ev: &mut TerminalEvents) -> Client {
    let base = format!("ws://{}", relay.local_addr());
    let url = term.pairing_url(&base);
    let rest = url
        .strip_prefix("https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#")
        .expect("pairing URL prefix");
    let (ws_base, id) = rest.rsplit_once('/').unwrap();
    assert_eq!(ws_base, base);
    assert_eq!(id, term.id().to_string());
    let mut app = Client::connect(relay, id).await;
    app.send(json!({"type":"bind","clientId":id,"targetId":app.id,"message":"DGLAB"}))
        .await;
    assert_eq!(app.recv().await["message"], "200");
    let app_id = uuid::Uuid::parse_str(&app.id).unwrap();
    assert_eq!(next(ev).await, TerminalEvent::Paired { app: app_id });
    assert_eq!(term.app(), Some(app_id));
    app
}

/// The full command/report flow, for either kind of terminal.
async fn exercise(relay: &RelayHandle, term: &Terminal, ev: &mut TerminalEvents) {
    assert_eq!(
        term.set_strength(Channel::A, 5),
        Err(TerminalError::NotPaired)
    );
    let mut app = scan(relay, term, ev).await;
    let t = term.id().to_string();
    let a = app.id.clone();
    let expect = |m: &str| json!({"type":"msg","clientId":t,"targetId":a,"message":m});

    term.set_strength(Channel::A, 35).unwrap();
    assert_eq!(app.recv().await, expect("strength-1+2+35"));
    term.step(Channel::B, Direction::Up).unwrap();
    assert_eq!(app.recv().await, expect("strength-2+1+1"));
    term.step(Channel::B, Direction::Down).unwrap();
    assert_eq!(app.recv().await, expect("strength-2+0+1"));
    let frames = [
        Frame::from_hex("0a0a0a0a00000000").unwrap(),
        Frame::from_hex("0A0A0A0A64646464").unwrap(),
    ];
    term.add_pulses(Channel::B, &frames).unwrap();
    assert_eq!(
        app.recv().await,
        expect(r#"pulse-B:["0A0A0A0A00000000","0A0A0A0A64646464"]"#)
    );
    term.clear(Channel::A).unwrap();
    assert_eq!(app.recv().await, expect("clear-1"));
    // 86 frames fit with UUID ids; 87 is a typed error and nothing is sent.
    assert_eq!(term.max_pulse_frames(), 86);
    term.add_pulses(Channel::A, &[Frame::SILENT; 86]).unwrap();
    assert_eq!(
        app.recv().await["message"]
            .as_str()
            .unwrap()
            .matches("\"0A0A0A0A00000000\"")
            .count(),
        86
    );
    let err = term
        .add_pulses(Channel::A, &[Frame::SILENT; 87])
        .unwrap_err();
    assert!(
        matches!(
            err,
            TerminalError::TooLong {
                frames: 87,
                max: 86,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        term.add_pulses(Channel::A, &[]),
        Err(TerminalError::FrameCount(0))
    ));
    assert_eq!(
        term.set_strength(Channel::A, 201),
        Err(TerminalError::StrengthOutOfRange(201))
    );
    app.silent_for(Duration::from_millis(100)).await;

    app.msg(&t, &a, "strength-35+0+100+80").await;
    let report = StrengthReport {
        a: 35,
        b: 0,
        limit_a: 100,
        limit_b: 80,
    };
    assert_eq!(next(ev).await, TerminalEvent::Strength(report));
    assert_eq!(term.last_report(), Some(report));
    app.msg(&t, &a, "feedback-6").await;
    assert_eq!(
        next(ev).await,
        TerminalEvent::Feedback(FeedbackButton::new(6).unwrap())
    );

    // The App drops; the terminal hears it, and the same pairing URL works again.
    let app_id = uuid::Uuid::parse_str(&a).unwrap();
    drop(app);
    assert_eq!(next(ev).await, TerminalEvent::AppLeft { app: app_id });
    assert_eq!(term.app(), None);
    assert_eq!(term.clear(Channel::A), Err(TerminalError::NotPaired));
    let mut app2 = scan(relay, term, ev).await;
    term.set_strength(Channel::B, 3).unwrap();
    assert_eq!(app2.recv().await["message"], "strength-2+2+3");

    // Closing the terminal sends break 209 to its App.
    term.close();
    let brk = app2.recv().await;
    assert_eq!(
        (brk["type"].as_str(), brk["message"].as_str()),
        (Some("break"), Some("209"))
    );
}

#[tokio::test]
async fn local_terminal_full_flow() {
    let relay = start_relay().await;
    let (term, mut ev) = Terminal::local(&relay);
    exercise(&relay, &term, &mut ev).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn remote_terminal_full_flow() {
    let relay = start_relay().await;
    let (term, mut ev) = remote::connect(&format!("ws://{}", relay.local_addr()))
        .await
        .unwrap();
    exercise(&relay, &term, &mut ev).await;
    assert_eq!(next(&mut ev).await, TerminalEvent::Closed);
    relay.shutdown().await;
}

#[tokio::test]
async fn two_local_terminals_drive_two_phones_independently() {
    let relay = start_relay().await;
    let (t1, mut e1) = Terminal::local(&relay);
    let (t2, mut e2) = Terminal::local(&relay);
    let mut p1 = scan(&relay, &t1, &mut e1).await;
    let mut p2 = scan(&relay, &t2, &mut e2).await;
    t1.set_strength(Channel::A, 1).unwrap();
    t2.set_strength(Channel::A, 2).unwrap();
    assert_eq!(p1.recv().await["message"], "strength-1+2+1");
    assert_eq!(p2.recv().await["message"], "strength-1+2+2");
    p1.silent_for(Duration::from_millis(100)).await;
    // Dropping the last handle removes the terminal too.
    drop(t2);
    assert_eq!(p2.recv().await["type"], "break");
    relay.shutdown().await;
}

#[tokio::test]
async fn local_terminal_hears_heartbeats() {
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: Some(Duration::from_millis(100)),
        ping_interval: None,
        ..RelayConfig::default()
    })
    .await;
    let (_term, mut ev) = Terminal::local(&relay);
    let e = tokio::time::timeout(Duration::from_secs(5), ev.recv())
        .await
        .unwrap();
    assert_eq!(e, Some(TerminalEvent::Heartbeat));
    relay.shutdown().await;
}

#[tokio::test]
async fn remote_connect_to_nothing_is_an_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    assert!(remote::connect(&format!("ws://{addr}")).await.is_err());
}

#[tokio::test]
async fn shutdown_writes_what_is_queued_before_closing() {
    let relay = start_relay().await;
    let (term, mut ev) = Terminal::local(&relay);
    let mut app = scan(&relay, &term, &mut ev).await;
    // Queued synchronously, then the relay shuts down at once: the App still gets them.
    term.set_strength(Channel::A, 0).unwrap();
    term.clear(Channel::A).unwrap();
    relay.shutdown().await;
    assert_eq!(app.recv().await["message"], "strength-1+2+0");
    assert_eq!(app.recv().await["message"], "clear-1");
    assert_eq!(app.closed().await, Some(1001));
}

#[test]
fn terminal_events_serialize_for_a_ui() {
    let fb = TerminalEvent::Feedback(FeedbackButton::new(7).unwrap());
    assert_eq!(
        serde_json::to_value(&fb).unwrap(),
        json!({"kind":"feedback","index":7,"channel":"B","position":2})
    );
    let st = TerminalEvent::Strength(StrengthReport {
        a: 1,
        b: 2,
        limit_a: 3,
        limit_b: 4,
    });
    assert_eq!(
        serde_json::to_value(&st).unwrap(),
        json!({"kind":"strength","a":1,"b":2,"limit_a":3,"limit_b":4})
    );
}

/// A local terminal whose events nobody reads is a stuck peer like a socket that stops
/// reading: once its bounded queue is full the relay drops it ("too slow"), its App gets
/// `break` 209, and the process does not grow with the App's flood.
#[tokio::test]
async fn a_local_terminal_nobody_reads_is_dropped_not_grown() {
    let relay = start_relay().await;
    let mut relay_events = relay.subscribe();
    let (term, mut ev) = Terminal::local(&relay);
    let mut app = scan(&relay, &term, &mut ev).await;
    let (t, a) = (term.id().to_string(), app.id.clone());
    // The App floods feedback; the terminal's events are never read.
    let mut broke = false;
    for _ in 0..5_000 {
        app.msg(&t, &a, "feedback-0").await;
        if term.app().is_none() {
            broke = true;
            break;
        }
    }
    for _ in 0..100 {
        if broke {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        broke = term.app().is_none();
    }
    assert!(broke, "the unread local terminal was never dropped");
    // The frames that met the full queue were answered 404 (not delivered); then the break.
    loop {
        let v = app.recv().await;
        if v["type"] == "break" {
            assert_eq!(v["message"], "209", "{v}");
            break;
        }
        assert_eq!(v["message"], "404", "{v}");
    }
    let reason = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(dglab_core::relay::RelayEvent::Disconnected { id, reason }) =
                relay_events.recv().await
            {
                if id == term.id() {
                    return reason;
                }
            }
        }
    })
    .await
    .expect("no Disconnected event for the terminal");
    assert_eq!(reason, "too slow");
    relay.shutdown().await;
}

/// A local terminal cannot be paused like a socket, so a burst it sends faster than the App's
/// socket drains is refused to it as `Busy` once the App's queue is full — the App, reading
/// at its own pace, stays paired and gets every frame that was taken, in order. (It was
/// dropped as "too slow", and its pairing lost, by its own terminal's burst.)
#[tokio::test]
async fn a_local_burst_past_the_apps_queue_is_refused_as_busy_and_the_app_stays_paired() {
    let relay = start_relay().await;
    let (term, mut ev) = Terminal::local(&relay);
    let mut app = scan(&relay, &term, &mut ev).await;
    // One thread: nothing drains the App's queue until this loop yields.
    let queue = RelayConfig::default().outbound_queue;
    let mut taken = 0;
    let mut busy = 0;
    for i in 0..queue + 100 {
        match term.add_pulses(Channel::A, &[Frame::uniform(10, (i % 100) as u8).unwrap()]) {
            Ok(()) => taken += 1,
            Err(TerminalError::Busy) => busy += 1,
            Err(e) => panic!("send {i}: {e}"),
        }
    }
    assert!(busy > 0 && taken >= queue / 2, "taken {taken}, busy {busy}");
    for i in 0..taken {
        let frame = Frame::uniform(10, (i % 100) as u8).unwrap().to_hex();
        let m = app.recv().await;
        assert_eq!(m["message"], format!("pulse-A:[\"{frame}\"]"), "frame {i}");
    }
    assert_eq!(term.app(), Some(uuid::Uuid::parse_str(&app.id).unwrap()));
    term.step(Channel::A, Direction::Up).unwrap();
    assert_eq!(app.recv().await["message"], "strength-1+1+1");
}
