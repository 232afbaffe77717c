//! The virtual App over real sockets: it pairs with our terminal through the terminal's QR
//! code and our relay, answers like the phone, and plays what it is sent frame by frame.
//! Where our relay would refuse to deliver something (frames over 1950 characters), a
//! hand-written relay on a socket plays the relay's part.

mod common;

use common::{start_relay, WAIT};
use dglab_core::player::{Player, PlayerConfig, Repeat};
use dglab_core::protocol::command::{FeedbackButton, StrengthReport};
use dglab_core::terminal::Direction;
use dglab_core::virtual_app::{
    DisconnectReason, IgnoredReason, Played, VirtualApp, VirtualAppConfig, VirtualAppError,
    VirtualAppEvent, APP_QUEUE_FRAMES,
};
use dglab_core::waveform::share;
use dglab_core::{Channel, Frame, Terminal, TerminalEvent, TerminalEvents};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

/// A tick so long that nothing plays during a test: queues can be counted exactly.
const FROZEN: Duration = Duration::from_secs(3600);

fn config(soft_a: u8, soft_b: u8) -> VirtualAppConfig {
    VirtualAppConfig {
        soft_limit_a: soft_a,
        soft_limit_b: soft_b,
        ..VirtualAppConfig::default()
    }
}

/// The next terminal event that is not a heartbeat.
async fn next(ev: &mut TerminalEvents) -> TerminalEvent {
    loop {
        let e = tokio::time::timeout(WAIT, ev.recv())
            .await
            .expect("no terminal event in time")
            .expect("terminal event stream ended");
        if e != TerminalEvent::Heartbeat {
            return e;
        }
    }
}

/// The next strength report the terminal hears.
async fn next_report(ev: &mut TerminalEvents) -> StrengthReport {
    loop {
        if let TerminalEvent::Strength(r) = next(ev).await {
            return r;
        }
    }
}

/// The next virtual-App event matching `pick`.
async fn wait_for<T>(
    rx: &mut broadcast::Receiver<VirtualAppEvent>,
    mut pick: impl FnMut(&VirtualAppEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT * 4, async {
        loop {
            let ev = rx.recv().await.expect("virtual App events ended");
            if let Some(t) = pick(&ev) {
                return t;
            }
        }
    })
    .await
    .expect("the virtual App did not do it in time")
}

/// A relay, our local terminal, and the virtual App paired with it by scanning the QR text.
async fn paired(
    cfg: VirtualAppConfig,
) -> (
    dglab_core::RelayHandle,
    Terminal,
    TerminalEvents,
    VirtualApp,
) {
    let relay = start_relay().await;
    let (term, mut events) = Terminal::local(&relay);
    let qr = term.pairing_url(&format!("ws://{}", relay.local_addr()));
    let app = VirtualApp::connect(&qr, cfg)
        .await
        .expect("virtual App pairs");
    let TerminalEvent::Paired { app: app_id } = next(&mut events).await else {
        panic!("the terminal did not hear a pairing first");
    };
    assert_eq!(term.app(), Some(app_id));
    assert_eq!(app.state().app_id, app_id.to_string());
    assert_eq!(app.state().terminal_id, term.id().to_string());
    (relay, term, events, app)
}

#[tokio::test]
async fn pairs_through_the_qr_code_and_reports_strength_within_the_soft_limits() {
    let (_relay, term, mut events, app) = paired(config(50, 80)).await;
    assert!(app.state().bound);
    // Right after binding, the App says where it stands.
    assert_eq!(
        next_report(&mut events).await,
        StrengthReport {
            a: 0,
            b: 0,
            limit_a: 50,
            limit_b: 80
        }
    );
    term.set_strength(Channel::A, 70).unwrap();
    assert_eq!(
        next_report(&mut events).await,
        StrengthReport {
            a: 50,
            b: 0,
            limit_a: 50,
            limit_b: 80
        },
        "a set above the soft limit stops at the limit"
    );
    term.step(Channel::B, Direction::Up).unwrap();
    assert_eq!(next_report(&mut events).await.b, 1);
    term.step(Channel::A, Direction::Down).unwrap();
    assert_eq!(next_report(&mut events).await.a, 49);

    // The user lowers A's limit under its strength: A comes down, the terminal hears it.
    app.set_soft_limits(20, 80).unwrap();
    let r = next_report(&mut events).await;
    assert_eq!(
        r,
        StrengthReport {
            a: 20,
            b: 1,
            limit_a: 20,
            limit_b: 80
        }
    );
    assert_eq!(term.last_report(), Some(r));
    let s = app.state();
    assert_eq!((s.a.strength, s.a.soft_limit, s.b.strength), (20, 20, 1));
    assert_eq!(
        app.set_soft_limits(201, 0),
        Err(VirtualAppError::SoftLimitOutOfRange(201))
    );
}

#[tokio::test]
async fn an_official_waveform_played_by_the_terminal_plays_frame_for_frame() {
    let vectors: Value =
        serde_json::from_str(include_str!("data/official-waveforms.json")).unwrap();
    let tide = vectors
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "潮汐")
        .expect("潮汐 in tests/data");
    let expected: Vec<Frame> = tide["expectedV3"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Frame::from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    let pass = share::parse_strict(tide["raw"].as_str().unwrap())
        .unwrap()
        .frames();
    assert_eq!(pass, expected, "the expansion itself matches the vector");

    let (_relay, term, mut events, app) = paired(config(100, 100)).await;
    term.set_strength(Channel::B, 12).unwrap();
    while next_report(&mut events).await.b != 12 {}
    let mut rx = app.subscribe();
    let player = Player::spawn(term.clone(), Channel::B, PlayerConfig::default()).unwrap();
    player.play(pass, Repeat::Once).unwrap();

    let mut played: Vec<Played> = Vec::new();
    while played.len() < expected.len() {
        let p = wait_for(&mut rx, |e| match e {
            VirtualAppEvent::Played(p) if p.channel == Channel::B && p.frame.is_some() => Some(*p),
            VirtualAppEvent::Played(p) => {
                assert_eq!(p.frame, None, "nothing was sent to A");
                None
            }
            _ => None,
        })
        .await;
        played.push(p);
    }
    let frames: Vec<Frame> = played.iter().map(|p| p.frame.unwrap()).collect();
    assert_eq!(frames, expected, "played in order, as expanded");
    assert!(played.iter().all(|p| p.strength == 12));
    assert!(
        played.windows(2).all(|w| w[1].at_ms > w[0].at_ms),
        "each frame on a later tick"
    );
    // Ticks are the App's 100 ms.
    assert!(played.iter().all(|p| p.at_ms % 100 == 0));
    assert_eq!(app.state().b.played, expected.len() as u64);
    // The last minute is kept for a window that opens late, in the same order.
    let recent: Vec<Frame> = app
        .recent()
        .iter()
        .filter(|p| p.channel == Channel::B)
        .filter_map(|p| p.frame)
        .collect();
    assert_eq!(recent, expected);
}

#[tokio::test]
async fn a_full_queue_drops_what_does_not_fit_and_clear_empties_it() {
    let cfg = VirtualAppConfig {
        tick: FROZEN,
        ..config(100, 100)
    };
    let (_relay, term, _events, app) = paired(cfg).await;
    let mut rx = app.subscribe();
    let max = term.max_pulse_frames();
    assert_eq!(max, 86);
    let chunk: Vec<Frame> = (0..max)
        .map(|i| Frame::uniform(10 + i as u8, (i % 101) as u8).unwrap())
        .collect();
    // 6 × 86 = 516 frames: the App keeps 500.
    for _ in 0..6 {
        term.add_pulses(Channel::A, &chunk).unwrap();
    }
    let mut added = 0;
    let mut dropped = 0;
    for _ in 0..6 {
        let (a, d) = wait_for(&mut rx, |e| match e {
            VirtualAppEvent::Queued {
                channel: Channel::A,
                added,
                dropped,
                ..
            } => Some((*added, *dropped)),
            _ => None,
        })
        .await;
        added += a;
        dropped += d;
    }
    assert_eq!((added, dropped), (APP_QUEUE_FRAMES, 16));
    let s = app.state();
    assert_eq!((s.a.queued, s.a.dropped, s.b.queued), (500, 16, 0));

    term.clear(Channel::A).unwrap();
    let discarded = wait_for(&mut rx, |e| match e {
        VirtualAppEvent::Cleared {
            channel: Channel::A,
            discarded,
        } => Some(*discarded),
        _ => None,
    })
    .await;
    assert_eq!(discarded, 500);
    assert_eq!(app.state().a.queued, 0);
    // Room again after the clear.
    term.add_pulses(Channel::A, &chunk[..3]).unwrap();
    wait_for(&mut rx, |e| {
        matches!(e, VirtualAppEvent::Queued { added: 3, .. }).then_some(())
    })
    .await;
    assert_eq!(app.state().a.queued, 3);
}

#[tokio::test]
async fn feedback_buttons_reach_the_terminal() {
    let (_relay, _term, mut events, app) = paired(config(100, 100)).await;
    let mut rx = app.subscribe();
    app.press_feedback(7).unwrap();
    app.press_feedback(0).unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        if let TerminalEvent::Feedback(b) = next(&mut events).await {
            got.push(b);
        }
    }
    assert_eq!(
        got,
        [
            FeedbackButton::new(7).unwrap(),
            FeedbackButton::new(0).unwrap()
        ]
    );
    assert_eq!(got[0].channel(), Channel::B);
    wait_for(&mut rx, |e| {
        matches!(e, VirtualAppEvent::Feedback { button: 7 }).then_some(())
    })
    .await;
    assert_eq!(
        app.press_feedback(10),
        Err(VirtualAppError::NoSuchButton(10))
    );
}

#[tokio::test]
async fn the_terminal_leaving_ends_the_app_and_the_app_leaving_frees_the_terminal() {
    let (relay, term, _events, app) = paired(config(100, 100)).await;
    let mut rx = app.subscribe();
    term.close();
    let end = wait_for(&mut rx, |e| match e {
        VirtualAppEvent::Disconnected { reason, code } => Some((*reason, *code)),
        _ => None,
    })
    .await;
    assert_eq!(end, (DisconnectReason::TerminalLeft, Some(209)));
    tokio::time::timeout(WAIT, app.closed()).await.unwrap();
    let s = app.state();
    assert!(!s.connected && !s.bound);
    assert_eq!(app.press_feedback(1), Err(VirtualAppError::Closed));

    // The other way round: the App closes, the terminal hears it left, and may pair again.
    let (term, mut events) = Terminal::local(&relay);
    let qr = term.pairing_url(&format!("ws://{}", relay.local_addr()));
    let app = VirtualApp::connect(&qr, config(10, 10)).await.unwrap();
    let TerminalEvent::Paired { app: first } = next(&mut events).await else {
        panic!("no pairing")
    };
    app.close();
    loop {
        if let TerminalEvent::AppLeft { app } = next(&mut events).await {
            assert_eq!(app, first);
            break;
        }
    }
    let again = VirtualApp::connect(&qr, config(10, 10)).await.unwrap();
    assert!(again.state().bound);
}

#[tokio::test]
async fn refusals_carry_the_apps_codes() {
    let relay = start_relay().await;
    assert_eq!(
        VirtualApp::connect("https://example.org/no-code-here", config(1, 1))
            .await
            .unwrap_err()
            .code(),
        Some(210)
    );
    // A terminal id nobody holds: the relay answers 401.
    let nobody = format!("ws://{}/{}", relay.local_addr(), uuid::Uuid::new_v4());
    assert_eq!(
        VirtualApp::connect(&nobody, config(1, 1))
            .await
            .unwrap_err(),
        VirtualAppError::BindRefused(401)
    );
    // A second App for a paired terminal: 400.
    let (term, _events) = Terminal::local(&relay);
    let qr = term.pairing_url(&format!("ws://{}", relay.local_addr()));
    let _first = VirtualApp::connect(&qr, config(1, 1)).await.unwrap();
    assert_eq!(
        VirtualApp::connect(&qr, config(1, 1)).await.unwrap_err(),
        VirtualAppError::BindRefused(400)
    );
    // A socket that never hands out an id: 211.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = silent.accept().await.unwrap();
        let _ws = tokio_tungstenite::accept_async(s).await.unwrap();
        std::future::pending::<()>().await;
    });
    let quick = VirtualAppConfig {
        timeout: Duration::from_millis(300),
        ..config(1, 1)
    };
    let e = VirtualApp::connect(&format!("ws://{addr}/abc"), quick)
        .await
        .unwrap_err();
    assert_eq!((e.clone(), e.code()), (VirtualAppError::NoId, Some(211)));
}

/// A relay written out by hand, to send what ours never would.
struct HandRelay {
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    terminal: String,
    app: String,
}

impl HandRelay {
    async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame from the virtual App")
                .expect("closed")
                .expect("socket error");
            if let Message::Text(t) = m {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    async fn send(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// A `msg` to the App, padded with an extra key to exactly `len` characters.
    fn msg_of_len(&self, message: &str, len: usize) -> String {
        let bare = json!({"type":"msg","clientId":self.terminal,"targetId":self.app,
                          "message":message,"pad":""})
        .to_string();
        assert!(bare.len() <= len, "{} > {len}", bare.len());
        let padded = json!({"type":"msg","clientId":self.terminal,"targetId":self.app,
                            "message":message,"pad":"x".repeat(len - bare.len())})
        .to_string();
        assert_eq!(padded.len(), len);
        padded
    }
}

/// Starts the virtual App against a hand-written relay and plays the relay's side of the
/// pairing, checking the App's frames on the way.
async fn hand_paired(cfg: VirtualAppConfig) -> (HandRelay, VirtualApp) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let terminal = uuid::Uuid::new_v4().to_string();
    let app_id = uuid::Uuid::new_v4().to_string();
    let (t, a) = (terminal.clone(), app_id.clone());
    let relay_side = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(s).await.unwrap();
        let mut r = HandRelay {
            ws,
            terminal: t,
            app: a,
        };
        r.send(
            json!({"type":"bind","clientId":r.app,"targetId":"","message":"targetId"}).to_string(),
        )
        .await;
        let bind = r.recv().await;
        assert_eq!(
            bind,
            json!({"type":"bind","clientId":r.terminal,"targetId":r.app,"message":"DGLAB"})
        );
        r.send(
            json!({"type":"bind","clientId":r.terminal,"targetId":r.app,"message":"200"})
                .to_string(),
        )
        .await;
        let first = r.recv().await;
        assert_eq!(first["type"], "msg");
        assert_eq!(first["message"], "strength-0+0+100+100");
        r
    });
    let qr =
        format!("https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#ws://{addr}/{terminal}");
    let app = VirtualApp::connect(&qr, cfg).await.unwrap();
    (relay_side.await.unwrap(), app)
}

#[tokio::test]
async fn frames_over_1950_characters_are_ignored_like_the_app_does() {
    let cfg = VirtualAppConfig {
        tick: FROZEN,
        ..config(100, 100)
    };
    let (mut relay, app) = hand_paired(cfg).await;
    let mut rx = app.subscribe();
    let ten = format!("pulse-A:[{}]", ["\"0A0A0A0A32323232\""; 10].join(","));
    // 1951 characters: dropped unread, even a valid command.
    let long = relay.msg_of_len(&ten, 1951);
    relay.send(long).await;
    let ignored = wait_for(&mut rx, |e| match e {
        VirtualAppEvent::Ignored { reason, chars } => Some((*reason, *chars)),
        _ => None,
    })
    .await;
    assert_eq!(ignored, (IgnoredReason::TooLong, 1951));
    // 1950 exactly: obeyed.
    let fits = relay.msg_of_len(&ten, 1950);
    relay.send(fits).await;
    wait_for(&mut rx, |e| {
        matches!(e, VirtualAppEvent::Queued { added: 10, .. }).then_some(())
    })
    .await;
    let s = app.state();
    assert_eq!((s.a.queued, s.ignored_too_long), (10, 1));

    // A malformed command gets no answer; the next good one does, so nothing was skipped.
    let bad = relay.msg_of_len("strength-1+2+201", 200);
    relay.send(bad).await;
    let set = relay.msg_of_len("strength-2+2+40", 200);
    relay.send(set).await;
    assert_eq!(relay.recv().await["message"], "strength-0+40+100+100");
    assert_eq!(app.state().ignored_other, 1);

    // The relay's heartbeat is answered.
    let hb =
        json!({"type":"heartbeat","clientId":relay.app,"targetId":relay.terminal,"message":"200"});
    relay.send(hb.to_string()).await;
    let answer = relay.recv().await;
    assert_eq!(
        (&answer["type"], &answer["message"]),
        (&json!("heartbeat"), &json!("200"))
    );

    // The relay going away is a disconnect, not a hang.
    drop(relay);
    let end = wait_for(&mut rx, |e| match e {
        VirtualAppEvent::Disconnected { reason, .. } => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(end, DisconnectReason::RelayClosed);
}
