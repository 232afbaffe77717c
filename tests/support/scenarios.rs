//! The player scenarios both `tests/player.rs` and `benches/player_sim.rs` run against
//! [`SimApp`](super::sim_app::SimApp), and the numbers they produce.

#![allow(dead_code)] // each including crate uses a different part

use super::sim_app::{Rng, SimApp, SimConfig};
use dglab_core::player::{Player, PlayerConfig, Repeat};
use dglab_core::{Channel, Frame};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Example 4 of docs/waveform-format.md §10 ("波浪涟漪"): 56 frames and 1 rest frame.
pub fn ripple() -> Vec<Frame> {
    let bytes = [
        0x0A, 0x11, 0x19, 0x21, 0x28, 0x30, 0x38, 0x3F, 0x47, 0x4F, 0x56, 0x5E, 0x64, 0x66,
    ];
    let mut v = Vec::new();
    for b in bytes {
        for i in [0, 50, 100, 73] {
            v.push(Frame::uniform(b, i).unwrap());
        }
    }
    v.push(Frame::SILENT);
    v
}

/// Example 1 of docs/waveform-format.md §10 ("呼吸"): 8 frames and 4 rest frames.
pub fn breath() -> Vec<Frame> {
    let mut v: Vec<Frame> = [0, 20, 40, 60, 80, 100, 100, 100]
        .iter()
        .map(|&i| Frame::uniform(10, i).unwrap())
        .collect();
    v.extend([Frame::SILENT; 4]);
    v
}

/// A pass whose every frame says which waveform (`tag`) and position it is.
pub fn tagged(tag: u8, len: usize) -> Vec<Frame> {
    (0..len)
        .map(|i| Frame::new([tag, 10, 10, 10], [(i % 101) as u8, (i / 101) as u8, 0, 0]).unwrap())
        .collect()
}

fn tag_of(f: &Frame) -> u8 {
    f.freq()[0]
}

fn pos_of(f: &Frame) -> usize {
    let i = f.intensity();
    usize::from(i[0]) + 101 * usize::from(i[1])
}

/// Frames played that differ from `pass` repeated from its start.
pub fn mismatches(played: &[(Instant, Frame)], pass: &[Frame]) -> usize {
    played
        .iter()
        .enumerate()
        .filter(|(i, (_, f))| *f != pass[i % pass.len()])
        .count()
}

/// Records the highest estimated lead a player reports.
pub fn watch_lead(p: &Player) -> Arc<Mutex<u64>> {
    let max = Arc::new(Mutex::new(0));
    let mut rx = p.subscribe();
    let m = max.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let lead = rx.borrow_and_update().lead_frames;
            let mut m = m.lock().unwrap();
            *m = (*m).max(lead);
        }
    });
    max
}

/// Numbers from one run, per the App's view of one channel.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub played: usize,
    pub gaps: u64,
    pub overflows: u64,
    /// Longest real queue at the App.
    pub max_queue: usize,
    /// Highest lead the player estimated.
    pub max_lead: u64,
    /// Played frames out of sequence (wrong frame, skipped, or repeated).
    pub mismatches: usize,
    pub underruns: u64,
}

fn outcome(app: &SimApp, ch: Channel, p: &Player, max_lead: &Mutex<u64>) -> Outcome {
    app.with(ch, |c| Outcome {
        played: c.played.len(),
        gaps: c.gaps,
        overflows: c.overflows,
        max_queue: c.max_queue,
        max_lead: *max_lead.lock().unwrap(),
        mismatches: 0,
        underruns: p.progress().underruns,
    })
}

/// Loops [`ripple`] on A and [`breath`] on B for `minutes`, then stops both.
pub async fn run_loop(seed: u64, minutes: u64, config: PlayerConfig) -> [Outcome; 2] {
    run_loop_on(SimConfig::new(seed), minutes, config).await
}

/// [`run_loop`] over a link of one's choosing.
pub async fn run_loop_on(sim: SimConfig, minutes: u64, config: PlayerConfig) -> [Outcome; 2] {
    let app = SimApp::start(sim);
    let passes = [ripple(), breath()];
    let mut out: [Outcome; 2] = Default::default();
    let mut players = Vec::new();
    for (ch, pass) in Channel::BOTH.into_iter().zip(&passes) {
        let p = Player::spawn(app.clone(), ch, config).unwrap();
        let lead = watch_lead(&p);
        p.play(pass.clone(), Repeat::Loop).unwrap();
        players.push((p, lead));
    }
    tokio::time::sleep(Duration::from_secs(60 * minutes)).await;
    for (i, (p, lead)) in players.iter().enumerate() {
        let ch = Channel::BOTH[i];
        out[i] = outcome(&app, ch, p, lead);
        out[i].mismatches = app.with(ch, |c| mismatches(&c.played, &passes[i]));
        p.stop().unwrap();
    }
    out
}

/// What `run_switches` measured.
#[derive(Debug, Default, Clone)]
pub struct SwitchOutcome {
    /// Per switch that reached the App: `play()` → its first frame played.
    pub latencies: Vec<Duration>,
    /// Switches superseded inside their gap (never meant to play).
    pub superseded: usize,
    /// Frames of an older waveform played after a newer one's first frame, or after stop.
    pub stale: usize,
    /// Waveforms whose played frames did not follow their pass from index 0.
    pub broken: usize,
    /// The switching channel A.
    pub a: Outcome,
    /// The looping channel B, which must not notice.
    pub b: Outcome,
    /// `add_pulses` calls on A after the final `stop()` returned.
    pub sends_after_stop: usize,
    /// Frames played on A after the final stop's clear took effect.
    pub played_after_clear: usize,
}

/// `n` switches on A at random intervals (10 ms..3 s, so some land inside the previous
/// switch's gap) between tagged passes of 1..=150 frames, while B loops [`breath`];
/// then a final stop.
pub async fn run_switches(seed: u64, n: usize, config: PlayerConfig) -> SwitchOutcome {
    let app = SimApp::start(SimConfig::new(seed));
    let mut rng = Rng::new(seed ^ 0x5EED);
    let a = Player::spawn(app.clone(), Channel::A, config).unwrap();
    let b = Player::spawn(app.clone(), Channel::B, config).unwrap();
    let (lead_a, lead_b) = (watch_lead(&a), watch_lead(&b));
    b.play(breath(), Repeat::Loop).unwrap();
    // (tag, pass length, time of play())
    let mut plays: Vec<(u8, usize, Instant)> = Vec::new();
    for k in 0..n {
        let tag = 10 + (k % 231) as u8;
        let len = 1 + rng.upto(149) as usize;
        let pause = if rng.upto(9) == 0 {
            rng.millis(10, 150)
        } else {
            rng.millis(150, 3000)
        };
        tokio::time::sleep(pause).await;
        plays.push((tag, len, Instant::now()));
        a.play(tagged(tag, len), Repeat::Loop).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.stop().unwrap();
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut o = SwitchOutcome {
        a: outcome(&app, Channel::A, &a, &lead_a),
        b: outcome(&app, Channel::B, &b, &lead_b),
        ..SwitchOutcome::default()
    };
    o.b.mismatches = app.with(Channel::B, |c| mismatches(&c.played, &breath()));
    app.with(Channel::A, |c| {
        o.sends_after_stop = c.sends.iter().filter(|(t, _)| *t >= stopped).count();
        let last_clear = *c.clears.last().unwrap();
        o.played_after_clear = c.played.iter().filter(|(t, _)| *t >= last_clear).count();
        // Split what A played into runs of one tag, in order.
        let mut runs: Vec<(u8, Vec<usize>, Instant)> = Vec::new();
        for (t, f) in &c.played {
            match runs.last_mut() {
                Some((tag, v, _)) if *tag == tag_of(f) => v.push(pos_of(f)),
                _ => runs.push((tag_of(f), vec![pos_of(f)], *t)),
            }
        }
        let mut next_run = runs.iter().peekable();
        for (k, (tag, len, at)) in plays.iter().enumerate() {
            // A run of neither this waveform nor a later one is an old waveform playing
            // after a newer one started: stale.
            let later = |t: &u8| plays[k + 1..].iter().any(|(l, _, _)| l == t);
            while next_run
                .peek()
                .is_some_and(|(t, _, _)| t != tag && !later(t))
            {
                let (_, v, _) = next_run.next().unwrap();
                o.stale += v.len();
            }
            match next_run.peek() {
                Some((t, v, first)) if t == tag => {
                    o.latencies.push(*first - *at);
                    if v.iter().enumerate().any(|(i, &p)| p != i % len) {
                        o.broken += 1;
                    }
                    next_run.next();
                }
                _ => o.superseded += 1,
            }
        }
        o.stale += next_run.map(|(_, v, _)| v.len()).sum::<usize>();
    });
    o
}

/// The `q`-quantile (0..=1) of sorted durations, nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
