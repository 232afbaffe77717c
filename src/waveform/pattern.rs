//! The App's editable waveform model and its expansion into frames.
//!
//! A [`Pattern`] is what the App's waveform editor shows: a header (rest, play rate,
//! balance) and up to [`MAX_SECTIONS`] sections, each a frequency ramp plus a list of
//! intensity bars ([`Point`]s). [`Pattern::frames`] turns it into the 100 ms [`Frame`]s the
//! box plays, following `docs/waveform-format.md` §6–§7 in exact integer arithmetic.
//!
//! Every field is a small validated type, so a `Pattern` that exists can always be expanded
//! without panicking and only ever yields valid frames. The only invariants the types cannot
//! carry are the list lengths (1..=[`MAX_SECTIONS`] sections, 1..=[`MAX_POINTS`] points);
//! [`Pattern::validate`] checks them, deserialization enforces them, and expansion copes
//! with any length anyway (empty sections are skipped).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::protocol::frame::{hz_to_byte, Frame};

/// Most sections a pattern may hold (the App's reported limit).
pub const MAX_SECTIONS: usize = 10;
/// Most points a section may hold (the App's reported limit).
pub const MAX_POINTS: usize = 500;

/// Frequency values (10..=1000) by index, §4.1. The "frequency value" is what docs/protocol.md
/// calls Hz: the number `hz_to_byte` turns into a frame byte.
pub const FREQ: [u16; 84] = [
    10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, //
    30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, //
    50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 78, //
    80, 85, 90, 95, //
    100, 110, 120, 130, 140, 150, 160, 170, 180, 190, //
    200, 233, 266, 300, 333, 366, //
    400, 450, 500, 550, //
    600, 700, 800, 900, 1000,
];

/// Target section length T in 100 ms units by index, §4.2.
pub const DURATION: [u16; 100] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, //
    21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, //
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, //
    52, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 78, //
    80, 85, 90, 95, //
    100, 110, 120, 130, 140, 150, 160, 170, 180, 190, //
    200, 234, 266, 300, 334, 366, //
    400, 450, 500, 550, //
    600, 700, 800, 900, //
    1000, 1200, 1400, 1600, 1800, //
    2000, 2500, 3000,
];

/// Why a value does not fit the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A number lies outside its field's range.
    #[error("{field} is {value}, must be within {min}..={max}")]
    OutOfRange {
        /// The field's name as the share string documents it.
        field: &'static str,
        /// The offending value.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// The play rate is not 1, 2 or 4.
    #[error("play rate is {0}, must be 1, 2 or 4")]
    PlayRate(u64),
    /// A point value is not a decimal 0..=100 with at most 2 decimals.
    #[error("point value {0:?} is not a decimal 0..=100 with at most 2 decimals")]
    PointValue(String),
    /// A list is empty or longer than its limit.
    #[error("{what} count is {count}, must be within 1..={max}")]
    Count {
        /// "section" or "point".
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Defines a `u8` newtype restricted to `MIN..=MAX`, serialized as the bare number.
macro_rules! bounded_u8 {
    ($(#[$doc:meta])* $name:ident, $field:literal, $min:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u8", into = "u8")]
        pub struct $name(u8);

        impl $name {
            /// Smallest allowed value.
            pub const MIN: u8 = $min;
            /// Largest allowed value.
            pub const MAX: u8 = $max;

            /// Checks the range.
            ///
            /// # Errors
            /// [`PatternError::OutOfRange`] outside `MIN..=MAX`.
            pub fn new(value: u8) -> Result<Self, PatternError> {
                if ($min..=$max).contains(&value) {
                    Ok(Self(value))
                } else {
                    Err(PatternError::OutOfRange {
                        field: $field,
                        value: u64::from(value),
                        min: $min,
                        max: $max,
                    })
                }
            }

            /// Clamps any number into range (the lenient parser's repair).
            pub fn clamped(value: u64) -> Self {
                // Both bounds fit in u8, so the clamped value does too.
                Self(value.clamp($min, $max) as u8)
            }

            /// The raw number.
            pub fn get(self) -> u8 {
                self.0
            }
        }

        impl TryFrom<u8> for $name {
            type Error = PatternError;
            fn try_from(value: u8) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> u8 {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded_u8!(
    /// Header `rest` L, 0..=100: `ceil(L / 10)` silent frames close each pass (§6.5).
    Rest, "rest", 0, 100
);
bounded_u8!(
    /// Header `balance` Z, 1..=16: a V2-only setting, kept so share strings round-trip;
    /// it has no effect on V3 frames.
    Balance, "balance", 1, 16
);
bounded_u8!(
    /// Index 0..=83 into [`FREQ`].
    FreqIndex, "frequency index", 0, 83
);
bounded_u8!(
    /// Index 0..=99 into [`DURATION`].
    DurationIndex, "duration index", 0, 99
);

impl FreqIndex {
    /// The frequency value (docs/protocol.md's "Hz", 10..=1000) this index stands for.
    pub fn value(self) -> u16 {
        FREQ[usize::from(self.0)]
    }
}

impl DurationIndex {
    /// The target section length T in 100 ms units (1..=3000).
    pub fn tenths(self) -> u16 {
        DURATION[usize::from(self.0)]
    }
}

/// Header `play rate` R: each point lasts 100/R ms (§7, an assumed rule for 2 and 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum PlayRate {
    /// One point per 100 ms frame (every official waveform).
    #[default]
    X1 = 1,
    /// One point per 50 ms.
    X2 = 2,
    /// One point per 25 ms slot.
    X4 = 4,
}

impl PlayRate {
    /// R as a number.
    pub fn get(self) -> u8 {
        self as u8
    }

    /// 25 ms slots each point fills: 4 / R.
    pub fn slots_per_point(self) -> u32 {
        4 / u32::from(self.get())
    }
}

impl TryFrom<u8> for PlayRate {
    type Error = PatternError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        match value {
            1 => Ok(PlayRate::X1),
            2 => Ok(PlayRate::X2),
            4 => Ok(PlayRate::X4),
            other => Err(PatternError::PlayRate(u64::from(other))),
        }
    }
}

impl From<PlayRate> for u8 {
    fn from(value: PlayRate) -> u8 {
        value.get()
    }
}

/// How a section's frequency moves from `freq_a` to `freq_b` (§6.2). Serialized by name
/// for the UI; the share string uses the numbers 1..=4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FrequencyMode {
    /// 1: `freq_a` throughout (固定).
    #[default]
    Fixed = 1,
    /// 2: one ramp across all repetitions of the section (节内渐变).
    SectionRamp = 2,
    /// 3: every repetition ramps from A to B (元内渐变).
    ElementRamp = 3,
    /// 4: constant inside a repetition, stepping from A to B between them (元间渐变).
    StepRamp = 4,
}

impl FrequencyMode {
    /// The share string's number 1..=4.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The mode for a share-string number, if it is one.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(FrequencyMode::Fixed),
            2 => Some(FrequencyMode::SectionRamp),
            3 => Some(FrequencyMode::ElementRamp),
            4 => Some(FrequencyMode::StepRamp),
            _ => None,
        }
    }
}

/// An exact decimal intensity 0..=100 with at most 2 decimals, remembering how many
/// decimals it was written with so share text round-trips exactly ("50" and "50.0" stay
/// apart). Serialized as that decimal text, because a JSON number would pass through a
/// float on the JS side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PointValue {
    /// The value times 100, 0..=10_000.
    hundredths: u16,
    /// Decimals written, 0..=2; `hundredths` is a multiple of 10^(2 − decimals).
    decimals: u8,
}

impl PointValue {
    /// Zero, written "0".
    pub const ZERO: PointValue = PointValue {
        hundredths: 0,
        decimals: 0,
    };

    /// A value from hundredths, written with as few decimals as it needs.
    ///
    /// # Errors
    /// [`PatternError::PointValue`] above 10 000 (100.00).
    pub fn from_hundredths(hundredths: u16) -> Result<Self, PatternError> {
        if hundredths > 10_000 {
            return Err(PatternError::PointValue(format!("{hundredths}/100")));
        }
        let decimals = if hundredths.is_multiple_of(100) {
            0
        } else if hundredths.is_multiple_of(10) {
            1
        } else {
            2
        };
        Ok(PointValue {
            hundredths,
            decimals,
        })
    }

    /// A whole-number value, 0..=100.
    ///
    /// # Errors
    /// [`PatternError::PointValue`] above 100.
    pub fn whole(value: u8) -> Result<Self, PatternError> {
        Self::from_hundredths(u16::from(value) * 100)
    }

    /// Builds from parts already range-checked by the share parser: `int` 0..=100,
    /// `frac` the written fraction digits (at most 2, all ASCII digits).
    pub(crate) fn from_parts(int: u16, frac: &str) -> Option<Self> {
        if int > 100 || frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut frac_hundredths = 0u16;
        for (i, b) in frac.bytes().enumerate() {
            let digit = u16::from(b - b'0');
            frac_hundredths += if i == 0 { digit * 10 } else { digit };
        }
        let hundredths = int * 100 + frac_hundredths;
        if hundredths > 10_000 {
            return None;
        }
        Some(PointValue {
            hundredths,
            decimals: frac.len() as u8,
        })
    }

    /// The value times 100.
    pub fn hundredths(self) -> u16 {
        self.hundredths
    }

    /// The intensity byte this bar plays: `floor(value)` (§3.3).
    pub fn intensity(self) -> u8 {
        // hundredths <= 10_000, so the quotient is at most 100.
        (self.hundredths / 100) as u8
    }
}

impl fmt::Display for PointValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.hundredths / 100;
        let frac = self.hundredths % 100;
        match self.decimals {
            0 => write!(f, "{int}"),
            1 => write!(f, "{int}.{}", frac / 10),
            _ => write!(f, "{int}.{frac:02}"),
        }
    }
}

impl std::str::FromStr for PointValue {
    type Err = PatternError;

    /// Accepts exactly `digits [ "." 1–2 digits ]` within 0..=100.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PatternError::PointValue(s.chars().take(40).collect());
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty()
            || int.len() > 3
            || !int.bytes().all(|b| b.is_ascii_digit())
            || (s.contains('.') && frac.is_empty())
        {
            return Err(bad());
        }
        let int: u16 = int.parse().map_err(|_| bad())?;
        PointValue::from_parts(int, frac).ok_or_else(bad)
    }
}

impl Serialize for PointValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PointValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One intensity bar of a section's element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Point {
    /// Intensity 0..=100; the frame gets its integer part.
    pub value: PointValue,
    /// Editor mark: a point the user placed (true) or one the editor interpolated. It has
    /// no effect on output; kept so the editor and share strings round-trip.
    pub anchor: bool,
}

/// One section: a frequency rule and the element (the list of points) it repeats.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "SectionRepr")]
pub struct Section {
    /// Start frequency.
    pub freq_a: FreqIndex,
    /// End frequency (modes 2–4 only).
    pub freq_b: FreqIndex,
    /// Target length; the section plays whole repetitions until it reaches it.
    pub duration: DurationIndex,
    /// How the frequency moves from A to B.
    pub mode: FrequencyMode,
    /// Switched-off sections are skipped (unless all are off, §8).
    pub enabled: bool,
    /// The element, 1..=[`MAX_POINTS`] points.
    pub points: Vec<Point>,
}

/// The deserialization mirror of [`Section`], checked before it becomes one.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SectionRepr {
    freq_a: FreqIndex,
    freq_b: FreqIndex,
    duration: DurationIndex,
    mode: FrequencyMode,
    enabled: bool,
    points: Vec<Point>,
}

impl TryFrom<SectionRepr> for Section {
    type Error = PatternError;
    fn try_from(r: SectionRepr) -> Result<Self, Self::Error> {
        let s = Section {
            freq_a: r.freq_a,
            freq_b: r.freq_b,
            duration: r.duration,
            mode: r.mode,
            enabled: r.enabled,
            points: r.points,
        };
        s.validate()?;
        Ok(s)
    }
}

impl Section {
    /// Checks the point count.
    ///
    /// # Errors
    /// [`PatternError::Count`] for 0 or more than [`MAX_POINTS`] points.
    pub fn validate(&self) -> Result<(), PatternError> {
        check_count("point", self.points.len(), MAX_POINTS)
    }

    /// Repetitions C = max(1, ceil(T·R / N)) (§6.1); 0 for a section without points.
    pub fn repetitions(&self, rate: PlayRate) -> u64 {
        let n = self.points.len() as u64;
        if n == 0 {
            return 0;
        }
        let tr = u64::from(self.duration.tenths()) * u64::from(rate.get());
        tr.div_ceil(n).max(1)
    }

    /// 25 ms slots this section fills when it plays: C · N · 4/R.
    pub fn len_slots(&self, rate: PlayRate) -> u64 {
        self.repetitions(rate) * self.points.len() as u64 * u64::from(rate.slots_per_point())
    }

    /// How long this section plays, in milliseconds (whole repetitions, so it may exceed
    /// its target duration).
    pub fn duration_ms(&self, rate: PlayRate) -> u64 {
        self.len_slots(rate) * 25
    }

    /// Length in 100 ms frames, rounded up. At R = 1 this is exact; at R = 2 or 4 a section
    /// may end mid-frame and the next one continues in the same frame (§7).
    pub fn len_frames(&self, rate: PlayRate) -> u64 {
        self.len_slots(rate).div_ceil(4)
    }

    /// Appends this section's slots (frequency byte, intensity) to `out`.
    fn push_slots(&self, rate: PlayRate, out: &mut SlotSink) {
        let n = self.points.len() as i64;
        if n == 0 {
            return;
        }
        let c = self.repetitions(rate) as i64;
        let fa = i64::from(self.freq_a.value());
        let span = i64::from(self.freq_b.value()) - fa;
        let per_point = rate.slots_per_point();
        for k in 0..c {
            for (j, point) in (0..n).zip(&self.points) {
                let (num, den) = progress(self.mode, k, j, n, c);
                // §5: floor of the exact rational, rounding toward −∞ on a falling ramp.
                let f = fa + (span * num).div_euclid(den);
                let byte = hz_to_byte(u32::try_from(f).unwrap_or(0));
                let intensity = point.value.intensity();
                for _ in 0..per_point {
                    out.push(byte, intensity);
                }
            }
        }
    }
}

/// `progress(M, k, j, N, C)` → (num, den) with den > 0 and 0 ≤ num ≤ den (§6.2).
fn progress(mode: FrequencyMode, k: i64, j: i64, n: i64, c: i64) -> (i64, i64) {
    match mode {
        FrequencyMode::Fixed => (0, 1),
        FrequencyMode::SectionRamp if n > 1 => (k * (n - 1) + j, c * (n - 1)),
        // N = 1 [assumed]: the single point steps like mode 4.
        FrequencyMode::SectionRamp | FrequencyMode::StepRamp if c > 1 => (k, c - 1),
        FrequencyMode::SectionRamp | FrequencyMode::StepRamp => (0, 1),
        FrequencyMode::ElementRamp if n > 1 => (j, n - 1),
        FrequencyMode::ElementRamp => (0, 1),
    }
}

/// Packs slots into frames as they come, so expansion needs no slot buffer.
struct SlotSink {
    frames: Vec<Frame>,
    freq: [u8; 4],
    intensity: [u8; 4],
    filled: usize,
}

impl SlotSink {
    fn with_capacity(frames: usize) -> Self {
        SlotSink {
            frames: Vec::with_capacity(frames),
            freq: [0; 4],
            intensity: [0; 4],
            filled: 0,
        }
    }

    fn push(&mut self, freq: u8, intensity: u8) {
        self.freq[self.filled] = freq;
        self.intensity[self.filled] = intensity;
        self.filled += 1;
        if self.filled == 4 {
            // Every byte comes from `hz_to_byte` (10..=240) and `PointValue::intensity`
            // (0..=100), so this cannot fail; if it ever did, silence is the safe output.
            let frame = Frame::new(self.freq, self.intensity);
            debug_assert!(frame.is_ok(), "expansion built an invalid frame");
            self.frames.push(frame.unwrap_or(Frame::SILENT));
            self.filled = 0;
        }
    }

    /// Pads a part-filled frame with silent slots (§7) and returns the frames.
    fn finish(mut self) -> Vec<Frame> {
        while self.filled != 0 {
            self.push(10, 0);
        }
        self.frames
    }
}

/// A whole waveform as the App's editor holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "PatternRepr")]
pub struct Pattern {
    /// Silence after the last section.
    pub rest: Rest,
    /// Point speed.
    pub play_rate: PlayRate,
    /// V2-only balance, no effect on frames.
    pub balance: Balance,
    /// 1..=[`MAX_SECTIONS`] sections, played in order.
    pub sections: Vec<Section>,
}

/// The deserialization mirror of [`Pattern`], checked before it becomes one.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatternRepr {
    rest: Rest,
    play_rate: PlayRate,
    balance: Balance,
    sections: Vec<Section>,
}

impl TryFrom<PatternRepr> for Pattern {
    type Error = PatternError;
    fn try_from(r: PatternRepr) -> Result<Self, Self::Error> {
        let p = Pattern {
            rest: r.rest,
            play_rate: r.play_rate,
            balance: r.balance,
            sections: r.sections,
        };
        p.validate()?;
        Ok(p)
    }
}

fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), PatternError> {
    if (1..=max).contains(&count) {
        Ok(())
    } else {
        Err(PatternError::Count { what, count, max })
    }
}

impl Pattern {
    /// The header defaults the share format uses when a string has none: L=0, R=1, Z=8.
    pub fn header_defaults() -> (Rest, PlayRate, Balance) {
        (Rest(0), PlayRate::X1, Balance(8))
    }

    /// Checks the section and point counts (the fields check themselves).
    ///
    /// # Errors
    /// [`PatternError::Count`] for 0 or too many sections or points.
    pub fn validate(&self) -> Result<(), PatternError> {
        check_count("section", self.sections.len(), MAX_SECTIONS)?;
        self.sections.iter().try_for_each(Section::validate)
    }

    /// The sections that play: the enabled ones, or the first alone when every section is
    /// switched off (§8: the App always plays its first section).
    pub fn playing_sections(&self) -> impl Iterator<Item = &Section> {
        let any_on = self.sections.iter().any(|s| s.enabled);
        self.sections
            .iter()
            .enumerate()
            .filter(move |(i, s)| s.enabled || (!any_on && *i == 0))
            .map(|(_, s)| s)
    }

    /// Silent frames after the sections: ceil(L / 10) (§6.5).
    pub fn rest_frames(&self) -> u64 {
        u64::from(self.rest.get()).div_ceil(10)
    }

    /// Frames one pass yields, computed without expanding.
    pub fn frame_count(&self) -> u64 {
        let slots: u64 = self
            .playing_sections()
            .map(|s| s.len_slots(self.play_rate))
            .sum();
        slots.div_ceil(4) + self.rest_frames()
    }

    /// How long one pass plays, in milliseconds, rest included.
    pub fn duration_ms(&self) -> u64 {
        self.frame_count() * 100
    }

    /// Expands one pass into frames (§6.1): sections back to back, a part-filled last frame
    /// padded with silent slots, then the rest frames. Exact integer arithmetic throughout.
    pub fn frames(&self) -> Vec<Frame> {
        let capacity = usize::try_from(self.frame_count()).unwrap_or(0);
        let mut sink = SlotSink::with_capacity(capacity);
        for section in self.playing_sections() {
            section.push_slots(self.play_rate, &mut sink);
        }
        let mut frames = sink.finish();
        for _ in 0..self.rest_frames() {
            frames.push(Frame::SILENT);
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(values: &[u8]) -> Vec<Point> {
        values
            .iter()
            .map(|&v| Point {
                value: PointValue::whole(v).unwrap(),
                anchor: true,
            })
            .collect()
    }

    fn section(a: u8, b: u8, d: u8, mode: FrequencyMode, points: &[u8]) -> Section {
        Section {
            freq_a: FreqIndex::new(a).unwrap(),
            freq_b: FreqIndex::new(b).unwrap(),
            duration: DurationIndex::new(d).unwrap(),
            mode,
            enabled: true,
            points: pts(points),
        }
    }

    #[test]
    fn tables_match_the_spec_rows() {
        assert_eq!(FREQ[39], 49);
        assert_eq!(FREQ[40], 50);
        assert_eq!(FREQ[54], 78);
        assert_eq!(FREQ[58], 95);
        assert_eq!(FREQ[68], 190);
        assert_eq!(FREQ[74], 366);
        assert_eq!(FREQ[78], 550);
        assert_eq!(FREQ[83], 1000);
        assert_eq!(DURATION[49], 50);
        assert_eq!(DURATION[51], 54);
        assert_eq!(DURATION[63], 78);
        assert_eq!(DURATION[67], 95);
        assert_eq!(DURATION[77], 190);
        assert_eq!(DURATION[83], 366);
        assert_eq!(DURATION[87], 550);
        assert_eq!(DURATION[91], 900);
        assert_eq!(DURATION[96], 1800);
        assert_eq!(DURATION[99], 3000);
        assert!(FREQ.windows(2).all(|w| w[0] < w[1]));
        assert!(DURATION.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn point_value_text_round_trips() {
        for text in ["0", "16.65", "33.3", "100", "50.0", "7.05", "100.00"] {
            let v: PointValue = text.parse().unwrap();
            assert_eq!(v.to_string(), text);
        }
        for bad in [
            "", ".5", "5.", "100.01", "101", "1.234", "-1", "1e2", "0x1", "1000",
        ] {
            assert!(bad.parse::<PointValue>().is_err(), "{bad:?}");
        }
        assert_eq!("66.75".parse::<PointValue>().unwrap().intensity(), 66);
    }

    #[test]
    fn lengths_without_expanding() {
        let s = section(0, 20, 19, FrequencyMode::Fixed, &[0, 50, 100]);
        assert_eq!(s.repetitions(PlayRate::X1), 7);
        assert_eq!(s.len_frames(PlayRate::X1), 21);
        assert_eq!(s.duration_ms(PlayRate::X1), 2100);
        assert_eq!(s.repetitions(PlayRate::X2), 14);
        assert_eq!(s.len_slots(PlayRate::X2), 84);
        let p = Pattern {
            rest: Rest::new(12).unwrap(),
            play_rate: PlayRate::X1,
            balance: Balance::new(8).unwrap(),
            sections: vec![s],
        };
        assert_eq!(p.frame_count(), 23);
        assert_eq!(p.duration_ms(), 2300);
        assert_eq!(p.frames().len(), 23);
    }

    #[test]
    fn falling_ramp_floors_toward_minus_infinity() {
        // 74 (idx 52) → 26 (idx 16) over N = 11 points, C = 1: steps of 4.8.
        let s = section(52, 16, 0, FrequencyMode::SectionRamp, &[1; 11]);
        let p = Pattern {
            rest: Rest::new(0).unwrap(),
            play_rate: PlayRate::X1,
            balance: Balance::new(8).unwrap(),
            sections: vec![s],
        };
        let f: Vec<u8> = p.frames().iter().map(|f| f.freq()[0]).collect();
        assert_eq!(f, [74, 69, 64, 59, 54, 50, 45, 40, 35, 30, 26]);
    }

    #[test]
    fn serde_rejects_out_of_range_fields() {
        let ok = r#"{"rest":0,"playRate":1,"balance":8,"sections":[{"freqA":0,"freqB":83,"duration":99,"mode":"stepRamp","enabled":true,"points":[{"value":"16.65","anchor":true}]}]}"#;
        let p: Pattern = serde_json::from_str(ok).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), ok);
        for (from, to) in [
            ("\"rest\":0", "\"rest\":101"),
            ("\"playRate\":1", "\"playRate\":3"),
            ("\"balance\":8", "\"balance\":0"),
            ("\"freqB\":83", "\"freqB\":84"),
            ("\"duration\":99", "\"duration\":100"),
            ("\"stepRamp\"", "\"other\""),
            ("\"16.65\"", "\"100.5\""),
            ("[{\"value\":\"16.65\",\"anchor\":true}]", "[]"),
        ] {
            let bad = ok.replace(from, to);
            assert!(serde_json::from_str::<Pattern>(&bad).is_err(), "{bad}");
        }
        let no_sections = r#"{"rest":0,"playRate":1,"balance":8,"sections":[]}"#;
        assert!(serde_json::from_str::<Pattern>(no_sections).is_err());
    }
}
