//! The player against a simulated App (0–80 ms ordered link, 500-frame queue, 100 ms
//! clock) on tokio's paused clock. See `tests/support/sim_app.rs` for the model.

#[path = "support/scenarios.rs"]
mod scenarios;
#[path = "support/sim_app.rs"]
mod sim_app;

use dglab_core::player::{PlayState, Player, PlayerConfig, Repeat, FRAME_TIME};
use dglab_core::safety::SafetyError;
use dglab_core::terminal::TerminalError;
use dglab_core::Channel;
use scenarios::*;
use sim_app::{SimApp, SimConfig};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn ten_minutes_of_looping_has_no_gap_no_overflow_and_plays_in_order() {
    for seed in [1, 2] {
        let [a, b] = run_loop(seed, 10, PlayerConfig::default()).await;
        for o in [&a, &b] {
            assert_eq!(o.gaps, 0, "seed {seed}: {o:?}");
            assert_eq!(o.overflows, 0, "seed {seed}: {o:?}");
            assert_eq!(o.mismatches, 0, "seed {seed}: {o:?}");
            assert_eq!(o.underruns, 0, "seed {seed}: {o:?}");
            // 6000 frames in 10 minutes, less the first chunk's delay and App phase.
            assert!((5997..=6000).contains(&o.played), "seed {seed}: {o:?}");
            assert!(o.max_queue <= 10, "seed {seed}: {o:?}");
            assert!(o.max_lead <= 7, "seed {seed}: {o:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn switches_are_quick_clean_and_leave_the_other_channel_alone() {
    let o = run_switches(7, 200, PlayerConfig::default()).await;
    assert!(o.latencies.len() > 150, "{o:?}");
    let max = o.latencies.iter().max().unwrap();
    assert!(*max <= Duration::from_millis(300), "{o:?}");
    assert_eq!(o.stale, 0, "{o:?}");
    assert_eq!(o.broken, 0, "{o:?}");
    assert_eq!((o.a.gaps, o.a.overflows), (0, 0), "{o:?}");
    assert_eq!(o.sends_after_stop, 0, "{o:?}");
    assert_eq!(o.played_after_clear, 0, "{o:?}");
    // B looped all along without a hole, a repeat or a skip.
    assert_eq!(
        (o.b.gaps, o.b.overflows, o.b.mismatches),
        (0, 0, 0),
        "{o:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn after_stop_nothing_old_is_sent_or_played() {
    let mut rng = sim_app::Rng::new(11);
    for round in 0..40 {
        let app = SimApp::start(SimConfig::new(round));
        let p = Player::spawn(app.clone(), Channel::A, PlayerConfig::default()).unwrap();
        p.play(ripple(), Repeat::Loop).unwrap();
        // Stop anywhere: right away, inside a switch gap, or mid-stream.
        tokio::time::sleep(rng.millis(0, 3000)).await;
        if round % 3 == 0 {
            p.play(breath(), Repeat::Loop).unwrap();
            tokio::time::sleep(rng.millis(0, 150)).await;
        }
        p.stop().unwrap();
        let stopped = Instant::now();
        let sends = app.with(Channel::A, |c| c.sends.len());
        tokio::time::sleep(Duration::from_secs(5)).await;
        app.with(Channel::A, |c| {
            assert_eq!(c.sends.len(), sends, "round {round}: sent after stop");
            let clear = *c.clears.last().unwrap();
            assert!(
                clear <= stopped + Duration::from_millis(95),
                "round {round}"
            );
            assert!(
                c.played.iter().all(|(t, _)| *t < clear),
                "round {round}: played after the clear"
            );
        });
        assert_eq!(p.progress().state, PlayState::Stopped);
    }
}

#[tokio::test(start_paused = true)]
async fn play_once_finishes_after_exactly_the_pass() {
    let app = SimApp::start(SimConfig::new(3));
    let p = Player::spawn(app.clone(), Channel::B, PlayerConfig::default()).unwrap();
    let pass = ripple();
    let mut rx = p.subscribe();
    let start = Instant::now();
    p.play(pass.clone(), Repeat::Once).unwrap();
    rx.wait_for(|pr| pr.state == PlayState::Finished)
        .await
        .unwrap();
    assert_eq!(start.elapsed(), FRAME_TIME * pass.len() as u32);
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.with(Channel::B, |c| {
        let frames: Vec<_> = c.played.iter().map(|(_, f)| *f).collect();
        assert_eq!(frames, pass);
        // Back to back: one frame per App tick, no hole.
        for w in c.played.windows(2) {
            assert_eq!(w[1].0 - w[0].0, FRAME_TIME);
        }
        assert_eq!(c.gaps, 0);
    });
    assert_eq!(app.with(Channel::A, |c| c.sends.len()), 0);
}

#[tokio::test(start_paused = true)]
async fn channels_play_independently() {
    let app = SimApp::start(SimConfig::new(5));
    let a = Player::spawn(app.clone(), Channel::A, PlayerConfig::default()).unwrap();
    let b = Player::spawn(app.clone(), Channel::B, PlayerConfig::default()).unwrap();
    a.play(ripple(), Repeat::Loop).unwrap();
    b.play(breath(), Repeat::Once).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    b.play(tagged(200, 30), Repeat::Loop).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    b.stop().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(a.progress().state, PlayState::Playing);
    assert_eq!(b.progress().state, PlayState::Stopped);
    app.with(Channel::A, |c| {
        assert!(c.clears.is_empty(), "B's clears must not reach A");
        assert_eq!(c.gaps, 0);
        assert_eq!(mismatches(&c.played, &ripple()), 0);
        assert!(c.played.len() >= 88);
    });
    app.with(Channel::B, |c| assert_eq!(c.clears.len(), 1));
}

#[tokio::test(start_paused = true)]
async fn an_output_error_stops_playback_visibly() {
    let app = SimApp::start(SimConfig::new(9));
    let p = Player::spawn(app.clone(), Channel::A, PlayerConfig::default()).unwrap();
    let mut rx = p.subscribe();
    p.play(ripple(), Repeat::Loop).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.set_failure(Some(TerminalError::NotPaired));
    let failed = rx
        .wait_for(|pr| matches!(pr.state, PlayState::Failed(_)))
        .await
        .unwrap()
        .clone();
    let not_paired = SafetyError::Terminal(TerminalError::NotPaired);
    assert_eq!(failed.state, PlayState::Failed(not_paired.clone()));
    // One failed attempt, then silence: no retry loop.
    let attempts = app.attempts();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(app.attempts(), attempts);
    assert_eq!(p.progress().state, PlayState::Failed(not_paired.clone()));
    // stop() still works and reports the output's error.
    assert_eq!(p.stop(), Err(not_paired));
    assert_eq!(p.progress().state, PlayState::Stopped);
    // Once paired again, play() starts over.
    app.set_failure(None);
    p.play(breath(), Repeat::Once).unwrap();
    rx.wait_for(|pr| pr.state == PlayState::Finished)
        .await
        .unwrap();
}

/// Negative controls: the simulated App does catch a too-short lead and a missing
/// switch gap, so the zeros above mean something.
#[tokio::test(start_paused = true)]
async fn the_simulator_catches_a_short_lead_and_a_missing_gap() {
    let short = PlayerConfig {
        lead: Duration::from_millis(100),
        top_up: Duration::ZERO,
        ..PlayerConfig::default()
    };
    let [a, _] = run_loop(1, 1, short).await;
    assert!(a.gaps > 0, "{a:?}");
    let no_gap = PlayerConfig {
        switch_gap: Duration::ZERO,
        ..PlayerConfig::default()
    };
    let o = run_switches(7, 100, no_gap).await;
    assert!(o.broken > 0, "{o:?}");
}
