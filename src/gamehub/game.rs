//! One game's settings and state, as the API reads and writes them, and the arithmetic of
//! the output loop (spec §3.4, §3.6, §4): pure functions of the state and `now`, so the
//! rules are unit-tested here and the loop in `engine.rs` only sends what they decide.

use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::{Duration, Instant};

/// Base strength and random range; upstream's default `{5, 5}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrengthConfig {
    /// The base strength of channel A.
    pub strength: u8,
    /// Up to this much is added at random, re-drawn every few seconds.
    pub random_strength: u8,
}

impl Default for StrengthConfig {
    fn default() -> Self {
        StrengthConfig {
            strength: 5,
            random_strength: 5,
        }
    }
}

/// How the selected pulses follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PulseMode {
    /// Always the first.
    #[default]
    Single,
    /// The next one every `pulse_change_interval` seconds.
    Sequence,
    /// Shuffled, then like `Sequence`, reshuffled at each wrap.
    Random,
}

/// Per-game settings (upstream's `gameConfig`). Only the window changes most of them;
/// the API sets `pulse_ids`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameConfig {
    /// The most a fire may add on top of the base. Default 30.
    pub fire_strength_limit: u8,
    /// Seconds between two random draws, both ends inclusive. Default 15–30.
    pub strength_change_interval: [u32; 2],
    /// Channel B follows A (times the multiplier). Default off.
    pub enable_b_channel: bool,
    /// B = A × this, at least 1.
    pub b_channel_strength_multiplier: u8,
    /// The selected pulses, at least one.
    pub pulse_ids: Vec<String>,
    /// The pulse a fire plays when the request names none.
    pub fire_pulse_id: Option<String>,
    /// How the selection plays.
    pub pulse_mode: PulseMode,
    /// Seconds per pulse in `Sequence`/`Random`. Default 60.
    pub pulse_change_interval: u32,
}

impl GameConfig {
    /// Upstream's defaults, with `first_pulse` selected.
    pub fn new(first_pulse: &str) -> Self {
        GameConfig {
            fire_strength_limit: 30,
            strength_change_interval: [15, 30],
            enable_b_channel: false,
            b_channel_strength_multiplier: 1,
            pulse_ids: vec![first_pulse.to_owned()],
            fire_pulse_id: None,
            pulse_mode: PulseMode::Single,
            pulse_change_interval: 60,
        }
    }

    /// A string for one pulse, an array for several (what v1/v2.0.0 clients decode).
    pub(crate) fn pulse_id_json(&self) -> Value {
        match self.pulse_ids.as_slice() {
            [one] => json!(one),
            many => json!(many),
        }
    }

    /// Upstream's `gameConfig` object.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "fireStrengthLimit": self.fire_strength_limit,
            "strengthChangeInterval": self.strength_change_interval,
            "enableBChannel": self.enable_b_channel,
            "bChannelStrengthMultiplier": self.b_channel_strength_multiplier,
            "pulseId": self.pulse_id_json(),
            "firePulseId": self.fire_pulse_id,
            "pulseMode": self.pulse_mode,
            "pulseChangeInterval": self.pulse_change_interval,
        })
    }
}

/// One of `add`, `sub`, `set` (upstream applies one per object: add > sub > set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add (may be negative).
    Add(i64),
    /// Subtract (may be negative).
    Sub(i64),
    /// Set.
    Set(i64),
}

impl Change {
    fn apply(self, v: u8) -> i64 {
        let v = i64::from(v);
        match self {
            Change::Add(n) => v.saturating_add(n),
            Change::Sub(n) => v.saturating_sub(n),
            Change::Set(n) => n,
        }
    }
}

/// A running fire: a boost on top of the base until `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    /// The boost, already limited by `fire_strength_limit`.
    pub boost: u8,
    /// When it ends.
    pub end: Instant,
    /// The pulse it plays, if the request named one.
    pub pulse: Option<String>,
}

/// Most fire time one request adds, and most a fire may have left (spec §6.5).
pub const MAX_FIRE_TIME: Duration = Duration::from_secs(300);

/// A small PRNG (xorshift64*): the random range needs no cryptography and no crate.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn seeded(seed: u64) -> Self {
        Rng(seed | 1)
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        lo + r % (hi - lo + 1)
    }
}

/// Everything the API and the loop know about one game (one of our terminals).
#[derive(Debug, Clone)]
pub struct GameState {
    /// Base and random range.
    pub strength: StrengthConfig,
    /// Settings.
    pub config: GameConfig,
    /// The fire, while one runs (or waits for output to start).
    pub fire: Option<Fire>,
    /// The random part drawn last, `0..=random_strength`.
    pub(crate) roll: u8,
    /// When to draw again.
    pub(crate) next_roll: Option<Instant>,
    /// Index into `config.pulse_ids` the playlist is on, and the order it plays in.
    pub(crate) order: Vec<usize>,
    pub(crate) pos: usize,
    pub(crate) pulse_since: Option<Instant>,
    pub(crate) rng: Rng,
}

impl GameState {
    /// A fresh game with `first_pulse` selected.
    pub(crate) fn new(first_pulse: &str, seed: u64) -> Self {
        GameState {
            strength: StrengthConfig::default(),
            config: GameConfig::new(first_pulse),
            fire: None,
            roll: 0,
            next_roll: None,
            order: vec![0],
            pos: 0,
            pulse_since: None,
            rng: Rng::seeded(seed),
        }
    }

    /// Applies one `strength`/`randomStrength` change each; the base is clamped into
    /// `0..=ceiling` (the App's soft limit and our cap), the range into `0..=200`.
    /// Returns whether anything changed.
    pub(crate) fn change_strength(
        &mut self,
        strength: Option<Change>,
        random: Option<Change>,
        ceiling: u8,
    ) -> bool {
        let before = self.strength;
        if let Some(c) = strength {
            self.strength.strength = c.apply(self.strength.strength).clamp(0, ceiling.into()) as u8;
        }
        if let Some(c) = random {
            self.strength.random_strength =
                c.apply(self.strength.random_strength).clamp(0, 200) as u8;
        }
        self.roll = self.roll.min(self.strength.random_strength);
        before != self.strength
    }

    /// A new pulse selection: the playlist starts over.
    pub(crate) fn select_pulses(&mut self, ids: Vec<String>, now: Instant) {
        self.config.pulse_ids = ids;
        self.reset_playlist(now);
    }

    fn reset_playlist(&mut self, now: Instant) {
        let n = self.config.pulse_ids.len();
        self.order = (0..n).collect();
        if self.config.pulse_mode == PulseMode::Random {
            self.shuffle();
        }
        self.pos = 0;
        self.pulse_since = Some(now);
    }

    fn shuffle(&mut self) {
        for i in (1..self.order.len()).rev() {
            let j = self.rng.between(0, i as u64) as usize;
            self.order.swap(i, j);
        }
    }

    /// The playlist's pulse now, advancing it when its time is up (upstream advances on
    /// read; the loop reads every tick).
    pub(crate) fn current_pulse(&mut self, now: Instant) -> String {
        let n = self.config.pulse_ids.len();
        if self.order.len() != n {
            self.reset_playlist(now);
        }
        let since = *self.pulse_since.get_or_insert(now);
        let every = Duration::from_secs(self.config.pulse_change_interval.max(1).into());
        if n > 1 && self.config.pulse_mode != PulseMode::Single && now >= since + every {
            self.pos += 1;
            if self.pos >= n {
                self.pos = 0;
                if self.config.pulse_mode == PulseMode::Random {
                    self.shuffle();
                }
            }
            self.pulse_since = Some(now);
        }
        let i = if self.config.pulse_mode == PulseMode::Single {
            0
        } else {
            self.order.get(self.pos).copied().unwrap_or(0)
        };
        self.config.pulse_ids.get(i).cloned().unwrap_or_default()
    }

    /// Starts or extends the fire (spec §3.6): the boost is limited by
    /// `fire_strength_limit` and replaced when non-zero; `override` restarts the time,
    /// otherwise it is added, and no fire has more than [`MAX_FIRE_TIME`] left.
    pub(crate) fn fire(
        &mut self,
        strength: u8,
        time: Duration,
        replace: bool,
        pulse: Option<String>,
        now: Instant,
    ) {
        let boost = strength.min(self.config.fire_strength_limit);
        let time = time.min(MAX_FIRE_TIME);
        let live = self.fire.take().filter(|f| f.end > now);
        let mut fire = live.unwrap_or(Fire {
            boost,
            end: now,
            pulse: None,
        });
        if boost > 0 {
            fire.boost = boost;
        }
        fire.end = if replace { now + time } else { fire.end + time };
        fire.end = fire.end.min(now + MAX_FIRE_TIME);
        if pulse.is_some() {
            fire.pulse = pulse;
        }
        self.fire = Some(fire);
    }

    /// The fire if it still runs; an ended one is dropped.
    pub(crate) fn live_fire(&mut self, now: Instant) -> Option<&Fire> {
        if self.fire.as_ref().is_some_and(|f| f.end <= now) {
            self.fire = None;
        }
        self.fire.as_ref()
    }

    /// The level channel A should be at now: base plus the fire's boost, or plus the
    /// random part (re-drawn when due), never above `soft_a`.
    pub(crate) fn target_a(&mut self, soft_a: u8, now: Instant) -> u8 {
        let boost = match self.live_fire(now) {
            Some(f) => f.boost,
            None => {
                if self.next_roll.is_none_or(|t| t <= now) {
                    let [lo, hi] = self.config.strength_change_interval;
                    self.roll = self.rng.between(0, self.strength.random_strength.into()) as u8;
                    let secs = self.rng.between(lo.into(), hi.into()).max(1);
                    self.next_roll = Some(now + Duration::from_secs(secs));
                }
                self.roll
            }
        };
        self.strength.strength.saturating_add(boost).min(soft_a)
    }

    /// Channel B for `a`, when B is on: `a × multiplier`, never above `soft_b`.
    pub(crate) fn target_b(&self, a: u8, soft_b: u8) -> Option<u8> {
        self.config.enable_b_channel.then(|| {
            let m = self.config.b_channel_strength_multiplier.max(1);
            a.saturating_mul(m).min(soft_b)
        })
    }

    /// The pulse to play now: the fire's own, then the configured fire pulse, then the
    /// playlist's.
    pub(crate) fn pulse_now(&mut self, now: Instant) -> String {
        let playlist = self.current_pulse(now);
        let fire_pulse = self.config.fire_pulse_id.clone();
        match self.live_fire(now) {
            Some(f) => f.pulse.clone().or(fire_pulse).unwrap_or(playlist),
            None => playlist,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game() -> GameState {
        GameState::new("d6f83af0", 42)
    }

    #[test]
    fn strength_changes_clamp_into_the_ceiling() {
        let mut g = game();
        assert!(g.change_strength(Some(Change::Add(100)), None, 20));
        assert_eq!(g.strength.strength, 20);
        assert!(g.change_strength(Some(Change::Sub(50)), Some(Change::Set(-3)), 20));
        assert_eq!(
            g.strength,
            StrengthConfig {
                strength: 0,
                random_strength: 0
            }
        );
        assert!(!g.change_strength(None, Some(Change::Sub(1)), 20));
        g.change_strength(None, Some(Change::Set(999)), 20);
        assert_eq!(g.strength.random_strength, 200);
    }

    #[test]
    fn the_target_is_base_plus_a_draw_within_the_range_and_under_the_soft_limit() {
        let mut g = game();
        let now = Instant::now();
        g.change_strength(Some(Change::Set(10)), Some(Change::Set(4)), 100);
        for i in 0..200 {
            let t = now + Duration::from_secs(i * 31);
            let a = g.target_a(100, t);
            assert!((10..=14).contains(&a), "{a}");
            assert!(g.target_a(12, t) <= 12);
        }
    }

    #[test]
    fn fire_is_limited_extended_and_replaced_as_upstream() {
        let mut g = game();
        let now = Instant::now();
        g.change_strength(Some(Change::Set(5)), Some(Change::Set(0)), 100);
        g.fire(200, Duration::from_secs(5), false, None, now);
        assert_eq!(g.fire.as_ref().unwrap().boost, 30);
        assert_eq!(g.target_a(100, now), 35);
        g.fire(10, Duration::from_secs(5), false, None, now);
        assert_eq!(g.fire.as_ref().unwrap().end, now + Duration::from_secs(10));
        g.fire(0, Duration::from_secs(1), true, Some("x".into()), now);
        let f = g.fire.clone().unwrap();
        assert_eq!(
            (f.boost, f.end, f.pulse.as_deref()),
            (10, now + Duration::from_secs(1), Some("x"))
        );
        // Appending never leaves more than five minutes.
        for _ in 0..100 {
            g.fire(10, Duration::from_secs(300), false, None, now);
        }
        assert_eq!(g.fire.as_ref().unwrap().end, now + MAX_FIRE_TIME);
        assert_eq!(g.pulse_now(now), "x");
        let later = now + MAX_FIRE_TIME;
        assert_eq!(g.target_a(100, later), 5);
        assert_eq!(g.pulse_now(later), "d6f83af0");
    }

    #[test]
    fn b_follows_a_times_the_multiplier_under_its_own_limit() {
        let mut g = game();
        assert_eq!(g.target_b(10, 50), None);
        g.config.enable_b_channel = true;
        g.config.b_channel_strength_multiplier = 3;
        assert_eq!(g.target_b(10, 50), Some(30));
        assert_eq!(g.target_b(10, 25), Some(25));
    }

    #[test]
    fn a_sequence_advances_after_its_interval_and_wraps() {
        let mut g = game();
        let now = Instant::now();
        g.config.pulse_mode = PulseMode::Sequence;
        g.select_pulses(vec!["a".into(), "b".into()], now);
        assert_eq!(g.current_pulse(now), "a");
        assert_eq!(g.current_pulse(now + Duration::from_secs(60)), "b");
        assert_eq!(g.current_pulse(now + Duration::from_secs(120)), "a");
        g.config.pulse_mode = PulseMode::Single;
        assert_eq!(g.current_pulse(now + Duration::from_secs(999)), "a");
    }
}
