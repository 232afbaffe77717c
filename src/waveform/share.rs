//! `Dungeonlab+pulse:` share strings ↔ [`Pattern`].
//!
//! The grammar and the repairs are `docs/waveform-format.md` §2 and §8. Text from users
//! is parsed **leniently** by default: every repair is recorded as a [`Warning`] with its
//! position. **Strict** parsing turns the first warning into an error, which suits text
//! that claims to come straight from the App (all official waveforms parse strictly).
//! Parsing never panics, and its size is bounded by [`MAX_TEXT_LEN`], [`MAX_SECTIONS`] and
//! [`MAX_POINTS`], so a hostile string cannot make the expansion large.
//!
//! [`format()`] writes the canonical text; `parse(&format(p))` gives back `p` for every
//! valid pattern.
//!
//! By hand on purpose: the App's format has no grammar crate, and the repairs with positions
//! need a parser that knows every field.
//!
//! ```
//! use dglab_core::waveform::share;
//!
//! let text = "Dungeonlab+pulse:0,1,8=0,20,0,1,1/0-1,100-1";
//! let parsed = share::parse(text).unwrap();
//! assert!(parsed.warnings.is_empty());
//! let frames = parsed.pattern.frames();
//! assert_eq!(frames[1].to_hex(), "0A0A0A0A64646464");
//! assert_eq!(share::format(&parsed.pattern), text);
//!
//! let err = share::parse("Dungeonlab+pulse:0,1,8=").unwrap_err();
//! assert_eq!(err.at.char, 23); // where a section was expected
//! ```

use std::fmt::{self, Write as _};

use super::pattern::{
    Balance, DurationIndex, FreqIndex, FrequencyMode, Pattern, PlayRate, Point, PointValue, Rest,
    Section, MAX_POINTS, MAX_SECTIONS,
};

/// The text every share string starts with.
pub const PREFIX: &str = "Dungeonlab+pulse:";
/// Separator between sections.
pub const SECTION_SEPARATOR: &str = "+section+";
/// Longest input accepted, in bytes, whitespace included. A maximal App pattern
/// (10 sections × 500 points of "100.00-1") is about 45 KB.
pub const MAX_TEXT_LEN: usize = 256 * 1024;

/// Lenient (repair and warn) or strict (reject on the first warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Apply §8's repairs and list them.
    #[default]
    Lenient,
    /// Fail with [`ParseErrorKind::Strict`] at the first repair.
    Strict,
}

/// A place in the original input (before whitespace was removed), both 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Byte offset.
    pub byte: usize,
    /// Character (Unicode scalar) offset, for showing a caret under the text.
    pub char: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "character {} (byte {})", self.char, self.byte)
    }
}

/// One repair the lenient parser made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where the repaired text starts.
    pub at: Position,
    /// What was wrong and what was done.
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.at, self.kind)
    }
}

/// What the lenient parser repaired (§8). Texts are cut to 24 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarningKind {
    /// The prefix is spelled in another letter case.
    #[error("prefix is not spelled exactly {PREFIX:?}; accepted")]
    PrefixCase,
    /// No `=`: the header took its defaults.
    #[error("no `rest,play-rate,balance=` header; using 0,1,8")]
    MissingHeader,
    /// The header does not have 3 fields.
    #[error(
        "header has {found} fields, expected 3; missing ones take defaults, extra ones are ignored"
    )]
    HeaderFieldCount {
        /// Fields found.
        found: usize,
    },
    /// A section does not have 5 parameters.
    #[error("section has {found} parameters, expected 5 (A,B,D,M,switch); missing ones take defaults, extra ones are ignored")]
    SectionFieldCount {
        /// Parameters found.
        found: usize,
    },
    /// A header field or parameter is not a number.
    #[error("{field} {text:?} is not a number; using the default {used}")]
    NotANumber {
        /// Which field.
        field: &'static str,
        /// The text found.
        text: String,
        /// The default used instead.
        used: u64,
    },
    /// A whole number was expected.
    #[error("{field} {text:?} is not a whole number; using {used}")]
    NotAnInteger {
        /// Which field.
        field: &'static str,
        /// The text found.
        text: String,
        /// The floored value used.
        used: u64,
    },
    /// A number lies outside its range.
    #[error("{field} {text:?} is out of range; clamped to {used}")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// The text found.
        text: String,
        /// The clamped value used.
        used: u64,
    },
    /// The play rate is not 1, 2 or 4.
    #[error("play rate {text:?} is not 1, 2 or 4; using 1")]
    PlayRate {
        /// The text found.
        text: String,
    },
    /// The mode is not 1..=4.
    #[error("mode {text:?} is not 1..=4; using 1 (fixed)")]
    Mode {
        /// The text found.
        text: String,
    },
    /// The switch is not `0` or `1`.
    #[error("switch {text:?} is not 0 or 1; treated as on")]
    Switch {
        /// The text found.
        text: String,
    },
    /// An empty section (`+section++section+`, or a separator at an end) was ignored.
    #[error("empty section ignored")]
    EmptySection,
    /// A section without `/` was dropped.
    #[error("section has no `/` between its parameters and its points; dropped")]
    SectionWithoutSlash,
    /// A section had no usable point and was dropped.
    #[error("section has no usable point; dropped")]
    SectionWithoutPoints,
    /// A section has a single point; kept (the App's editor needs 2).
    #[error("section has a single point (the App needs at least 2); kept")]
    SinglePoint,
    /// An empty point entry was ignored.
    #[error("empty point ignored")]
    EmptyPoint,
    /// A point value is not a plain decimal; the point was dropped.
    #[error("point value {text:?} is not a decimal number; point dropped")]
    PointNotANumber {
        /// The text found.
        text: String,
    },
    /// A point value above 100 was clamped.
    #[error("point value {text:?} is above 100; clamped to 100")]
    PointOutOfRange {
        /// The text found.
        text: String,
    },
    /// A point value had more than 2 decimals; the rest were cut (the intensity is
    /// unchanged, it only uses the integer part).
    #[error("point value {text:?} has more than 2 decimals; cut to 2")]
    PointDecimals {
        /// The text found.
        text: String,
    },
    /// A point's `-flag` is missing or not 0/1; the flag became 0 (no effect on output).
    #[error("point flag {text:?} is not 0 or 1; treated as 0")]
    Flag {
        /// The text found (empty when there was no `-`).
        text: String,
    },
}

/// Why a text is not a waveform at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {at}: {kind}")]
pub struct ParseError {
    /// Where parsing stopped.
    pub at: Position,
    /// What was expected there.
    pub kind: ParseErrorKind,
}

/// The fatal cases of [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The input is longer than [`MAX_TEXT_LEN`].
    #[error("text is {len} bytes, at most {max} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text does not start with the prefix.
    #[error("expected the text to start with {PREFIX:?}")]
    MissingPrefix,
    /// Nothing playable is left.
    #[error("expected at least one section `A,B,D,M,switch/value-flag,...` with a usable point")]
    NoSection,
    /// More sections than [`MAX_SECTIONS`].
    #[error("more than {max} sections")]
    TooManySections {
        /// The limit.
        max: usize,
    },
    /// A section with more points than [`MAX_POINTS`].
    #[error("more than {max} points in a section")]
    TooManyPoints {
        /// The limit.
        max: usize,
    },
    /// Strict mode met something lenient mode would repair.
    #[error("strict mode: {0}")]
    Strict(WarningKind),
}

/// A leniently parsed pattern and what was repaired to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The pattern.
    pub pattern: Pattern,
    /// Repairs, in text order; empty for well-formed text.
    pub warnings: Vec<Warning>,
}

/// Parses leniently (§8).
///
/// # Errors
/// [`ParseError`] when the text is too long, lacks the prefix, has no usable section, or
/// exceeds [`MAX_SECTIONS`] / [`MAX_POINTS`].
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    parse_with(text, Strictness::Lenient)
}

/// Parses strictly: any repair is an error.
///
/// # Errors
/// As [`parse`], plus [`ParseErrorKind::Strict`] at the first repair.
pub fn parse_strict(text: &str) -> Result<Pattern, ParseError> {
    parse_with(text, Strictness::Strict).map(|p| p.pattern)
}

/// Parses with the given strictness.
///
/// # Errors
/// As [`parse_strict`] in strict mode, as [`parse`] otherwise.
pub fn parse_with(text: &str, strictness: Strictness) -> Result<Parsed, ParseError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(ParseError {
            at: Position::default(),
            kind: ParseErrorKind::TooLong {
                len: text.len(),
                max: MAX_TEXT_LEN,
            },
        });
    }
    let mut p = Parser::new(text, strictness);
    let pattern = p.pattern()?;
    Ok(Parsed {
        pattern,
        warnings: p.warnings,
    })
}

/// Writes the canonical share string: header always present, values as stored.
pub fn format(pattern: &Pattern) -> String {
    let mut out = String::with_capacity(32 + pattern.sections.len() * 64);
    out.push_str(PREFIX);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{},{},{}=",
        pattern.rest,
        pattern.play_rate.get(),
        pattern.balance
    );
    for (i, s) in pattern.sections.iter().enumerate() {
        if i > 0 {
            out.push_str(SECTION_SEPARATOR);
        }
        let _ = write!(
            out,
            "{},{},{},{},{}/",
            s.freq_a,
            s.freq_b,
            s.duration,
            s.mode.code(),
            u8::from(s.enabled)
        );
        for (j, point) in s.points.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}-{}", point.value, u8::from(point.anchor));
        }
    }
    out
}

/// A number as the grammar allows it: digits, optionally `.` and more digits.
enum Num {
    /// Digits only; saturates instead of overflowing.
    Int(u64),
    /// Had a fraction; the integer part (saturated).
    Dec(u64),
    /// Anything else.
    Bad,
}

fn parse_num(s: &str) -> Num {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Num::Bad;
    }
    let value = int.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    if frac.is_some() {
        Num::Dec(value)
    } else {
        Num::Int(value)
    }
}

/// Cuts text quoted in a warning, so a hostile token cannot make messages huge.
fn excerpt(s: &str) -> String {
    const MAX: usize = 24;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

/// Splits `s` (which starts at offset `off` of the clean text) on `sep`, with offsets.
fn split_at_offsets<'a>(
    s: &'a str,
    off: usize,
    sep: &'a str,
) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let mut start = off;
    s.split(sep).map(move |part| {
        let at = start;
        start += part.len() + sep.len();
        (at, part)
    })
}

struct Parser {
    /// The input without whitespace; all offsets below index it.
    clean: String,
    /// For each byte of `clean`, where it was in the input (byte, char).
    origin: Vec<(usize, usize)>,
    /// Where the input ends, for errors past the last byte.
    end: Position,
    strictness: Strictness,
    warnings: Vec<Warning>,
}

impl Parser {
    fn new(text: &str, strictness: Strictness) -> Self {
        let mut clean = String::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len());
        let mut chars = 0;
        for (byte, c) in text.char_indices() {
            if !c.is_whitespace() {
                clean.push(c);
                for i in 0..c.len_utf8() {
                    origin.push((byte + i, chars));
                }
            }
            chars += 1;
        }
        Parser {
            clean,
            origin,
            end: Position {
                byte: text.len(),
                char: chars,
            },
            strictness,
            warnings: Vec::new(),
        }
    }

    fn position(&self, off: usize) -> Position {
        self.origin
            .get(off)
            .map_or(self.end, |&(byte, char)| Position { byte, char })
    }

    fn fail(&self, off: usize, kind: ParseErrorKind) -> ParseError {
        ParseError {
            at: self.position(off),
            kind,
        }
    }

    /// Records a repair, or fails in strict mode.
    fn warn(&mut self, off: usize, kind: WarningKind) -> Result<(), ParseError> {
        match self.strictness {
            Strictness::Strict => Err(self.fail(off, ParseErrorKind::Strict(kind))),
            Strictness::Lenient => {
                let at = self.position(off);
                self.warnings.push(Warning { at, kind });
                Ok(())
            }
        }
    }

    fn pattern(&mut self) -> Result<Pattern, ParseError> {
        // Borrowck: the tokens below borrow the clean text while `self` records warnings.
        let clean = std::mem::take(&mut self.clean);
        let result = self.pattern_of(&clean);
        self.clean = clean;
        result
    }

    fn pattern_of(&mut self, clean: &str) -> Result<Pattern, ParseError> {
        let body_off = self.prefix(clean)?;
        let body = &clean[body_off..];
        let (rest, play_rate, balance, list, list_off) = match body.split_once('=') {
            Some((header, list)) => {
                let (l, r, z) = self.header(header, body_off)?;
                (l, r, z, list, body_off + header.len() + 1)
            }
            None => {
                self.warn(body_off, WarningKind::MissingHeader)?;
                let (l, r, z) = Pattern::header_defaults();
                (l, r, z, body, body_off)
            }
        };
        let mut sections = Vec::new();
        for (off, text) in split_at_offsets(list, list_off, SECTION_SEPARATOR) {
            if let Some(section) = self.section(text, off)? {
                if sections.len() == MAX_SECTIONS {
                    return Err(
                        self.fail(off, ParseErrorKind::TooManySections { max: MAX_SECTIONS })
                    );
                }
                sections.push(section);
            }
        }
        if sections.is_empty() {
            return Err(self.fail(list_off, ParseErrorKind::NoSection));
        }
        Ok(Pattern {
            rest,
            play_rate,
            balance,
            sections,
        })
    }

    /// Checks the prefix and returns where the body starts.
    fn prefix(&mut self, clean: &str) -> Result<usize, ParseError> {
        let want = PREFIX.as_bytes();
        let got = clean.as_bytes();
        let matched = want
            .iter()
            .zip(got)
            .take_while(|(w, g)| w.eq_ignore_ascii_case(g))
            .count();
        if matched < want.len() {
            return Err(self.fail(matched, ParseErrorKind::MissingPrefix));
        }
        if &got[..want.len()] != want {
            self.warn(0, WarningKind::PrefixCase)?;
        }
        Ok(want.len())
    }

    fn header(
        &mut self,
        header: &str,
        off: usize,
    ) -> Result<(Rest, PlayRate, Balance), ParseError> {
        let fields: Vec<(usize, &str)> = if header.is_empty() {
            Vec::new()
        } else {
            split_at_offsets(header, off, ",").collect()
        };
        if fields.len() != 3 {
            self.warn(
                off,
                WarningKind::HeaderFieldCount {
                    found: fields.len(),
                },
            )?;
        }
        let (mut rest, mut rate, mut balance) = Pattern::header_defaults();
        if let Some(&(o, t)) = fields.first() {
            rest = Rest::clamped(self.int_field(t, o, "rest", 0, 0, 100)?);
        }
        if let Some(&(o, t)) = fields.get(1) {
            let r = self.int_field(t, o, "play rate", 1, 0, u64::MAX)?;
            rate = match u8::try_from(r)
                .ok()
                .and_then(|r| PlayRate::try_from(r).ok())
            {
                Some(rate) => rate,
                None => {
                    self.warn(o, WarningKind::PlayRate { text: excerpt(t) })?;
                    PlayRate::X1
                }
            };
        }
        if let Some(&(o, t)) = fields.get(2) {
            balance = Balance::clamped(self.int_field(t, o, "balance", 8, 1, 16)?);
        }
        Ok((rest, rate, balance))
    }

    /// One section, or `None` when it is dropped.
    fn section(&mut self, text: &str, off: usize) -> Result<Option<Section>, ParseError> {
        if text.is_empty() {
            self.warn(off, WarningKind::EmptySection)?;
            return Ok(None);
        }
        let Some((params, element)) = text.split_once('/') else {
            self.warn(off, WarningKind::SectionWithoutSlash)?;
            return Ok(None);
        };
        let fields: Vec<(usize, &str)> = if params.is_empty() {
            Vec::new()
        } else {
            split_at_offsets(params, off, ",").collect()
        };
        if fields.len() != 5 {
            self.warn(
                off,
                WarningKind::SectionFieldCount {
                    found: fields.len(),
                },
            )?;
        }
        let field = |i: usize| fields.get(i).copied();
        let mut a = 0;
        if let Some((o, t)) = field(0) {
            a = self.int_field(t, o, "freq-a", 0, 0, 83)?;
        }
        let mut b = a;
        if let Some((o, t)) = field(1) {
            b = self.int_field(t, o, "freq-b", a, 0, 83)?;
        }
        let mut d = 0;
        if let Some((o, t)) = field(2) {
            d = self.int_field(t, o, "duration", 0, 0, 99)?;
        }
        let mut mode = FrequencyMode::Fixed;
        if let Some((o, t)) = field(3) {
            let m = self.int_field(t, o, "mode", 1, 0, u64::MAX)?;
            mode = match FrequencyMode::from_code(m) {
                Some(mode) => mode,
                None => {
                    self.warn(o, WarningKind::Mode { text: excerpt(t) })?;
                    FrequencyMode::Fixed
                }
            };
        }
        let mut enabled = true;
        if let Some((o, t)) = field(4) {
            enabled = t != "0";
            if t != "0" && t != "1" {
                self.warn(o, WarningKind::Switch { text: excerpt(t) })?;
            }
        }

        let element_off = off + params.len() + 1;
        let mut points = Vec::new();
        for (o, t) in split_at_offsets(element, element_off, ",") {
            if let Some(point) = self.point(t, o)? {
                if points.len() == MAX_POINTS {
                    return Err(self.fail(o, ParseErrorKind::TooManyPoints { max: MAX_POINTS }));
                }
                points.push(point);
            }
        }
        match points.len() {
            0 => {
                self.warn(off, WarningKind::SectionWithoutPoints)?;
                return Ok(None);
            }
            1 => self.warn(element_off, WarningKind::SinglePoint)?,
            _ => {}
        }
        Ok(Some(Section {
            freq_a: FreqIndex::clamped(a),
            freq_b: FreqIndex::clamped(b),
            duration: DurationIndex::clamped(d),
            mode,
            enabled,
            points,
        }))
    }

    /// One `value-flag` entry, or `None` when it is dropped.
    fn point(&mut self, text: &str, off: usize) -> Result<Option<Point>, ParseError> {
        if text.is_empty() {
            self.warn(off, WarningKind::EmptyPoint)?;
            return Ok(None);
        }
        let (value_text, flag) = match text.split_once('-') {
            Some((v, f)) => (v, Some(f)),
            None => (text, None),
        };
        let (int, frac) = value_text.split_once('.').unwrap_or((value_text, ""));
        let value = match parse_num(value_text) {
            Num::Bad => {
                let text = excerpt(value_text);
                self.warn(off, WarningKind::PointNotANumber { text })?;
                return Ok(None);
            }
            Num::Int(v) | Num::Dec(v)
                if v > 100 || (v == 100 && frac.bytes().any(|b| b != b'0')) =>
            {
                let text = excerpt(value_text);
                self.warn(off, WarningKind::PointOutOfRange { text })?;
                PointValue::from_parts(100, "")
            }
            Num::Int(_) | Num::Dec(_) => {
                let frac = if frac.len() > 2 {
                    let text = excerpt(value_text);
                    self.warn(off, WarningKind::PointDecimals { text })?;
                    &frac[..2]
                } else {
                    frac
                };
                // `int` is all digits with a value of at most 100 (leading zeros allowed).
                let int = int.bytes().fold(0u16, |acc, b| {
                    acc.saturating_mul(10).saturating_add(u16::from(b - b'0'))
                });
                PointValue::from_parts(int, frac)
            }
        };
        // Every branch above checked what `from_parts` needs; the fallback keeps this total.
        let value = value.unwrap_or(PointValue::ZERO);
        let anchor = match flag {
            Some("1") => true,
            Some("0") => false,
            other => {
                // Point at the flag, or just past the value when there is no `-`.
                let flag_off = off + value_text.len() + usize::from(other.is_some());
                let text = excerpt(other.unwrap_or(""));
                self.warn(flag_off, WarningKind::Flag { text })?;
                false
            }
        };
        Ok(Some(Point { value, anchor }))
    }

    /// An integer field: a default when not a number, floored when decimal, clamped to
    /// `min..=max`, each repair warned.
    fn int_field(
        &mut self,
        text: &str,
        off: usize,
        field: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ParseError> {
        let value = match parse_num(text) {
            Num::Int(v) => v,
            Num::Dec(v) => {
                let text = excerpt(text);
                self.warn(
                    off,
                    WarningKind::NotAnInteger {
                        field,
                        text,
                        used: v,
                    },
                )?;
                v
            }
            Num::Bad => {
                let text = excerpt(text);
                self.warn(
                    off,
                    WarningKind::NotANumber {
                        field,
                        text,
                        used: default,
                    },
                )?;
                return Ok(default);
            }
        };
        let used = value.clamp(min, max);
        if used != value {
            let text = excerpt(text);
            self.warn(off, WarningKind::OutOfRange { field, text, used })?;
        }
        Ok(used)
    }
}
