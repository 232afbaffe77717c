//! A simulated DG-LAB App behind a delayed but ordered link, for tokio's paused clock.
//!
//! Shared by `tests/player.rs` and `benches/player_sim.rs` (included with `#[path]`).
//! The model, per docs/protocol.md:
//! - every message takes 0..=`max_delay` (seeded, hand-written PRNG) but never overtakes
//!   an earlier one, as on one TCP connection shared by both channels;
//! - per channel the App keeps a queue of at most 500 frames (extra frames are dropped and
//!   counted as overflow) and, on its own 100 ms clock with a random phase, plays one frame;
//! - a `clear-N` takes effect up to `clear_lag` after it arrives and also wipes pulses that
//!   arrive in that window: the "clear overtakes new pulses" hazard the switch gap exists for.
//!
//! A *gap* is an App tick with an empty queue while a waveform is active (a frame arrived
//! since the last clear) that is later followed by more frames without a clear in
//! between: an audible hole. The empty queue after a play-once pass ends is not a gap.

#![allow(dead_code)] // each including crate uses a different part

use dglab_core::player::PulseOutput;
use dglab_core::safety::SafetyError;
use dglab_core::terminal::TerminalError;
use dglab_core::{Channel, Frame};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The App's per-channel queue limit (docs/protocol.md).
pub const APP_QUEUE: usize = 500;
/// How often the App plays a frame.
pub const TICK: Duration = Duration::from_millis(100);

/// splitmix64: tiny, seedable, and good enough to spread delays (no crate needed).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (the tiny modulo bias does not matter here).
    pub fn upto(&mut self, max: u64) -> u64 {
        self.next_u64() % (max + 1)
    }

    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.upto(hi - lo))
    }
}

/// Link and App parameters.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    pub seed: u64,
    /// Each message takes 0..=this.
    pub max_delay: Duration,
    /// A clear takes effect 0..=this after it arrives.
    pub clear_lag: Duration,
    /// What `max_frames` reports (86 with two UUIDs).
    pub max_frames: usize,
}

impl SimConfig {
    pub fn new(seed: u64) -> Self {
        SimConfig {
            seed,
            max_delay: Duration::from_millis(80),
            clear_lag: Duration::from_millis(15),
            max_frames: 86,
        }
    }
}

#[derive(Debug, Clone)]
enum Msg {
    Pulse(Channel, Vec<Frame>),
    Clear(Channel),
}

/// What the App did on one channel.
#[derive(Debug, Default)]
pub struct AppChannel {
    queue: VecDeque<Frame>,
    /// A frame arrived since the last clear.
    active: bool,
    /// Empty ticks since the last played frame, while active.
    starved: u64,
    /// Holes in playback (see the module doc).
    pub gaps: u64,
    /// Total empty ticks inside those holes.
    pub gap_ticks: u64,
    /// Frames dropped because the queue was full.
    pub overflows: u64,
    /// Longest the queue ever was.
    pub max_queue: usize,
    /// Every frame played, with its time.
    pub played: Vec<(Instant, Frame)>,
    /// When each clear took effect.
    pub clears: Vec<Instant>,
    /// Every accepted `add_pulses` call: when it was sent and how many frames.
    pub sends: Vec<(Instant, usize)>,
}

impl AppChannel {
    fn arrive(&mut self, frames: Vec<Frame>) {
        self.active = true;
        for f in frames {
            if self.queue.len() >= APP_QUEUE {
                self.overflows += 1;
            } else {
                self.queue.push_back(f);
            }
        }
        self.max_queue = self.max_queue.max(self.queue.len());
    }

    fn apply_clear(&mut self, now: Instant) {
        self.queue.clear();
        self.active = false;
        self.starved = 0;
        self.clears.push(now);
    }

    fn tick(&mut self, now: Instant) {
        match self.queue.pop_front() {
            Some(f) => {
                if self.starved > 0 {
                    self.gaps += 1;
                    self.gap_ticks += self.starved;
                }
                self.starved = 0;
                self.played.push((now, f));
            }
            None if self.active => self.starved += 1,
            None => {}
        }
    }
}

struct State {
    cfg: SimConfig,
    rng: Rng,
    /// Arrival time of the last message: later ones may not arrive before it.
    last_arrival: Instant,
    link: VecDeque<(Instant, Msg)>,
    /// Clears that arrived and take effect at the given time.
    pending_clears: Vec<(Instant, Channel)>,
    next_tick: Instant,
    channels: [AppChannel; 2],
    /// When set, every command fails with this error.
    fail: Option<TerminalError>,
    /// Every `add_pulses` call, failed ones included.
    attempts: u64,
}

/// The simulated App; implements [`PulseOutput`] so a player can drive it.
pub struct SimApp {
    state: Mutex<State>,
    wake: Notify,
    max_frames: usize,
}

fn idx(ch: Channel) -> usize {
    match ch {
        Channel::A => 0,
        Channel::B => 1,
    }
}

impl SimApp {
    /// Starts the App's clock and link on the current (paused) runtime.
    pub fn start(cfg: SimConfig) -> Arc<SimApp> {
        let mut rng = Rng::new(cfg.seed);
        let now = Instant::now();
        let phase = rng.millis(0, 99);
        let app = Arc::new(SimApp {
            state: Mutex::new(State {
                cfg,
                rng,
                last_arrival: now,
                link: VecDeque::new(),
                pending_clears: Vec::new(),
                next_tick: now + phase,
                channels: Default::default(),
                fail: None,
                attempts: 0,
            }),
            wake: Notify::new(),
            max_frames: cfg.max_frames,
        });
        tokio::spawn(run(Arc::downgrade(&app)));
        app
    }

    /// Makes every later command fail (or succeed again with `None`).
    pub fn set_failure(&self, e: Option<TerminalError>) {
        self.state.lock().unwrap().fail = e;
    }

    /// `add_pulses` calls so far, failed ones included.
    pub fn attempts(&self) -> u64 {
        self.state.lock().unwrap().attempts
    }

    /// Reads one channel's record.
    pub fn with<R>(&self, ch: Channel, f: impl FnOnce(&AppChannel) -> R) -> R {
        f(&self.state.lock().unwrap().channels[idx(ch)])
    }

    fn send(&self, msg: Msg) -> Result<(), SafetyError> {
        let mut st = self.state.lock().unwrap();
        if let Msg::Pulse(..) = msg {
            st.attempts += 1;
        }
        if let Some(e) = st.fail.clone() {
            return Err(e.into());
        }
        let now = Instant::now();
        let max = st.cfg.max_delay.as_millis() as u64;
        let delay = st.rng.millis(0, max);
        let at = (now + delay).max(st.last_arrival);
        st.last_arrival = at;
        if let Msg::Pulse(ch, f) = &msg {
            st.channels[idx(*ch)].sends.push((now, f.len()));
        }
        st.link.push_back((at, msg));
        drop(st);
        self.wake.notify_one();
        Ok(())
    }

    /// Processes everything due by `now`; returns the next event time.
    fn advance(&self, now: Instant) -> Instant {
        let mut st = self.state.lock().unwrap();
        let st = &mut *st;
        while st.link.front().is_some_and(|(t, _)| *t <= now) {
            let (_, msg) = st.link.pop_front().unwrap();
            match msg {
                Msg::Pulse(ch, frames) => st.channels[idx(ch)].arrive(frames),
                Msg::Clear(ch) => {
                    let max = st.cfg.clear_lag.as_millis() as u64;
                    let lag = st.rng.millis(0, max);
                    st.pending_clears.push((now + lag, ch));
                }
            }
        }
        st.pending_clears.retain(|&(t, ch)| {
            if t <= now {
                st.channels[idx(ch)].apply_clear(now);
            }
            t > now
        });
        while st.next_tick <= now {
            for c in &mut st.channels {
                c.tick(now);
            }
            st.next_tick += TICK;
        }
        let mut next = st.next_tick;
        if let Some((t, _)) = st.link.front() {
            next = next.min(*t);
        }
        for (t, _) in &st.pending_clears {
            next = next.min(*t);
        }
        next
    }
}

/// The App's clock and the link, as one task; ends when the App is dropped.
async fn run(app: std::sync::Weak<SimApp>) {
    loop {
        let Some(a) = app.upgrade() else { return };
        let woken = a.wake.notified();
        let next = a.advance(Instant::now());
        // `a` is released at the end of each round, so dropping the App ends the task.
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep_until(next) => {}
        }
    }
}

impl PulseOutput for SimApp {
    fn add_pulses(&self, channel: Channel, frames: &[Frame]) -> Result<(), SafetyError> {
        assert!(
            !frames.is_empty() && frames.len() <= self.max_frames,
            "{} frames would not fit one message",
            frames.len()
        );
        self.send(Msg::Pulse(channel, frames.to_vec()))
    }

    fn clear(&self, channel: Channel) -> Result<(), SafetyError> {
        self.send(Msg::Clear(channel))
    }

    fn max_frames(&self) -> usize {
        self.max_frames
    }
}
