//! Unit tests of the player against a recording output on tokio's paused clock. The
//! end-to-end properties (gaps, overflow, latency over a delayed link) live in
//! `tests/player.rs` with a simulated App.

use super::*;
use crate::terminal::TerminalError;
use std::sync::Mutex;

/// What the player handed to the output, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Pulse(Channel, Vec<Frame>),
    Clear(Channel),
}

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(Instant, Call)>>,
    max_frames: usize,
    fail: Mutex<Option<TerminalError>>,
}

impl Recorder {
    fn new(max_frames: usize) -> Arc<Self> {
        Arc::new(Recorder {
            max_frames,
            ..Recorder::default()
        })
    }

    fn calls(&self) -> Vec<(Instant, Call)> {
        self.calls.lock().unwrap().clone()
    }

    fn pulses(&self) -> Vec<Frame> {
        self.calls()
            .into_iter()
            .filter_map(|(_, c)| match c {
                Call::Pulse(_, f) => Some(f),
                Call::Clear(_) => None,
            })
            .flatten()
            .collect()
    }
}

impl PulseOutput for Recorder {
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), SafetyError> {
        assert!(frames.len() <= self.max_frames, "chunk over max_frames");
        if let Some(e) = self.fail.lock().unwrap().clone() {
            return Err(e.into());
        }
        let call = Call::Pulse(channel, frames.to_vec());
        self.calls.lock().unwrap().push((Instant::now(), call));
        Ok(())
    }

    fn clear(&self, channel: Channel) -> Result<(), SafetyError> {
        if let Some(e) = self.fail.lock().unwrap().clone() {
            return Err(e.into());
        }
        let call = Call::Clear(channel);
        self.calls.lock().unwrap().push((Instant::now(), call));
        Ok(())
    }

    fn max_frames(&self) -> usize {
        self.max_frames
    }
}

/// `n` distinct frames (intensity = index).
fn pass(n: u8) -> Vec<Frame> {
    (0..n).map(|i| Frame::uniform(10, i).unwrap()).collect()
}

#[test]
fn config_bounds_are_checked() {
    assert!(PlayerConfig::default().validate().is_ok());
    let tiny = PlayerConfig {
        lead: Duration::from_millis(50),
        ..PlayerConfig::default()
    };
    assert!(matches!(tiny.validate(), Err(PlayerError::Config(_))));
    let huge = PlayerConfig {
        lead: Duration::from_secs(9),
        top_up: Duration::from_secs(2),
        ..PlayerConfig::default()
    };
    assert!(matches!(huge.validate(), Err(PlayerError::Config(_))));
}

#[test]
fn spawn_outside_a_runtime_is_an_error() {
    let r = Player::spawn(Recorder::new(86), Channel::A, PlayerConfig::default());
    assert_eq!(r.unwrap_err(), PlayerError::NoRuntime);
}

#[tokio::test(start_paused = true)]
async fn empty_pass_is_refused() {
    let p = Player::spawn(Recorder::new(86), Channel::A, PlayerConfig::default()).unwrap();
    assert_eq!(
        p.play(Vec::new(), Repeat::Loop),
        Err(PlayerError::EmptyPass)
    );
}

#[tokio::test(start_paused = true)]
async fn chunks_respect_max_frames_and_loops_wrap_in_order() {
    let out = Recorder::new(3);
    let config = PlayerConfig {
        lead: Duration::from_secs(2),
        top_up: Duration::from_secs(1),
        ..PlayerConfig::default()
    };
    let p = Player::spawn(out.clone(), Channel::B, config).unwrap();
    p.play(pass(7), Repeat::Loop).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sent = out.pulses();
    assert!(sent.len() >= 50);
    for (i, f) in sent.iter().enumerate() {
        assert_eq!(f.intensity()[0], (i % 7) as u8, "frame {i}");
    }
    // First refill fills the lead at once: 30 frames in ten 3-frame messages.
    let first: Vec<_> = out.calls().into_iter().take(10).collect();
    assert!(first
        .iter()
        .all(|(t, c)| *t == first[0].0 && matches!(c, Call::Pulse(Channel::B, f) if f.len() == 3)));
}

#[tokio::test(start_paused = true)]
async fn lead_stays_between_the_marks() {
    let out = Recorder::new(86);
    let p = Player::spawn(out.clone(), Channel::A, PlayerConfig::default()).unwrap();
    let mut rx = p.subscribe();
    p.play(pass(13), Repeat::Loop).unwrap();
    let mut seen = 0;
    while seen < 300 {
        rx.changed().await.unwrap();
        let pr = rx.borrow_and_update().clone();
        if pr.state == PlayState::Playing {
            assert!((4..=7).contains(&pr.lead_frames), "{pr:?}");
            assert_eq!(pr.underruns, 0);
            seen += 1;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn switch_clears_then_waits_the_gap() {
    let out = Recorder::new(86);
    let p = Player::spawn(out.clone(), Channel::A, PlayerConfig::default()).unwrap();
    p.play(pass(10), Repeat::Loop).unwrap();
    tokio::time::sleep(Duration::from_millis(1234)).await;
    let t_switch = Instant::now();
    p.play(vec![Frame::uniform(99, 1).unwrap(); 4], Repeat::Loop)
        .unwrap();
    // A second switch inside the gap must not send another clear nor restart the gap.
    tokio::time::sleep(Duration::from_millis(30)).await;
    p.play(vec![Frame::uniform(77, 1).unwrap(); 4], Repeat::Loop)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after: Vec<_> = out
        .calls()
        .into_iter()
        .filter(|(t, _)| *t >= t_switch)
        .collect();
    assert_eq!(after[0], (t_switch, Call::Clear(Channel::A)));
    let (t_first, Call::Pulse(_, f)) = &after[1] else {
        panic!("{after:?}")
    };
    assert_eq!(*t_first, t_switch + Duration::from_millis(100));
    assert_eq!(f[0].freq()[0], 77, "the superseded pass never went out");
    assert!(after[1..]
        .iter()
        .all(|(_, c)| matches!(c, Call::Pulse(_, f) if f[0].freq()[0] == 77)));
}

#[tokio::test(start_paused = true)]
async fn stop_is_final_and_clears() {
    let out = Recorder::new(86);
    let p = Player::spawn(out.clone(), Channel::A, PlayerConfig::default()).unwrap();
    p.play(pass(10), Repeat::Loop).unwrap();
    tokio::time::sleep(Duration::from_millis(2050)).await;
    p.stop().unwrap();
    let n = out.calls().len();
    assert_eq!(out.calls()[n - 1].1, Call::Clear(Channel::A));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(out.calls().len(), n);
    assert_eq!(p.progress().state, PlayState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_handle_stops() {
    let out = Recorder::new(86);
    let p = Player::spawn(out.clone(), Channel::B, PlayerConfig::default()).unwrap();
    let q = p.clone();
    p.play(pass(10), Repeat::Loop).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(p);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_ne!(out.calls().last().unwrap().1, Call::Clear(Channel::B));
    drop(q);
    let n = out.calls().len();
    assert_eq!(out.calls()[n - 1].1, Call::Clear(Channel::B));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(out.calls().len(), n);
}

#[tokio::test(start_paused = true)]
async fn refused_clear_on_switch_fails_visibly() {
    let out = Recorder::new(86);
    let p = Player::spawn(out.clone(), Channel::A, PlayerConfig::default()).unwrap();
    p.play(pass(10), Repeat::Loop).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    *out.fail.lock().unwrap() = Some(TerminalError::Closed);
    let r = p.play(pass(3), Repeat::Loop);
    let closed = SafetyError::Terminal(TerminalError::Closed);
    assert_eq!(r, Err(PlayerError::Output(closed.clone())));
    assert_eq!(p.progress().state, PlayState::Failed(closed));
}

#[test]
fn handle_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<Player>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_works_from_a_plain_thread() {
    let out = Recorder::new(86);
    let p = Player::spawn(out.clone(), Channel::A, PlayerConfig::default()).unwrap();
    p.play(pass(10), Repeat::Loop).unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let q = p.clone();
    // A safety gate may live on any thread, with no runtime in sight.
    std::thread::spawn(move || q.stop())
        .join()
        .unwrap()
        .unwrap();
    let n = out.calls().len();
    assert_eq!(out.calls()[n - 1].1, Call::Clear(Channel::A));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(out.calls().len(), n);
    assert_eq!(p.progress().state, PlayState::Stopped);
}
