//! The typed payloads carried in an envelope's `message` (docs/protocol.md, "Commands").
//!
//! Terminal → App: [`AppCommand`] (strength, pulse, clear). App → terminal: [`AppReport`]
//! (strength report, feedback). `format` produces exactly the wire strings and `parse`
//! accepts exactly what `format` produces (plus lower-case hex in pulse frames), so
//! `parse(format(c)) == c` for every command.

use crate::protocol::Frame;
use std::fmt;

/// Highest strength the protocol carries (the App's own ceiling).
pub const MAX_STRENGTH: u8 = 200;
/// Most frames one `pulse-` message may carry (the App's rule).
pub const MAX_PULSE_FRAMES: usize = 100;

/// One of the box's two output channels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Channel {
    /// Channel A (wire number 1).
    A,
    /// Channel B (wire number 2).
    B,
}

impl Channel {
    /// Both channels, A first.
    pub const BOTH: [Channel; 2] = [Channel::A, Channel::B];

    /// 1 for A, 2 for B, as in `strength-` and `clear-`.
    pub fn number(self) -> u8 {
        match self {
            Channel::A => 1,
            Channel::B => 2,
        }
    }

    /// "A" or "B", as in `pulse-`.
    pub fn letter(self) -> &'static str {
        match self {
            Channel::A => "A",
            Channel::B => "B",
        }
    }

    /// Parses 1/2.
    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            1 => Some(Channel::A),
            2 => Some(Channel::B),
            _ => None,
        }
    }

    /// Parses "A"/"B" (either case) or "1"/"2".
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "A" | "a" | "1" => Some(Channel::A),
            "B" | "b" | "2" => Some(Channel::B),
            _ => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

/// How a `strength-` command changes a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrengthMode {
    /// Mode 0. The App lowers by 1, whatever the value.
    Decrease,
    /// Mode 1. The App raises by 1, whatever the value.
    Increase,
    /// Mode 2: set to the value.
    Set,
}

impl StrengthMode {
    fn number(self) -> u8 {
        match self {
            StrengthMode::Decrease => 0,
            StrengthMode::Increase => 1,
            StrengthMode::Set => 2,
        }
    }
}

/// A command from a terminal to the App.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCommand {
    /// `strength-<ch>+<mode>+<value>`, value 0..=200.
    Strength {
        /// Which channel.
        channel: Channel,
        /// Decrease, increase or set.
        mode: StrengthMode,
        /// 0..=200.
        value: u8,
    },
    /// `pulse-<A|B>:["<16 hex>", ...]`, 1..=100 frames.
    Pulse {
        /// Which channel's queue the frames join.
        channel: Channel,
        /// The frames, played 100 ms each.
        frames: Vec<Frame>,
    },
    /// `clear-<1|2>`: empty that channel's queue at the App.
    Clear(Channel),
}

impl AppCommand {
    /// The `message` text.
    pub fn format(&self) -> String {
        match self {
            AppCommand::Strength {
                channel,
                mode,
                value,
            } => format!("strength-{}+{}+{}", channel.number(), mode.number(), value),
            AppCommand::Pulse { channel, frames } => format_pulse(*channel, frames),
            AppCommand::Clear(ch) => format!("clear-{}", ch.number()),
        }
    }

    /// Parses a `message`; `None` if it is not a well-formed command the App would obey.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(rest) = s.strip_prefix("strength-") {
            let mut it = rest.split('+');
            let channel = Channel::from_number(parse_small(it.next()?)?)?;
            let mode = match parse_small(it.next()?)? {
                0 => StrengthMode::Decrease,
                1 => StrengthMode::Increase,
                2 => StrengthMode::Set,
                _ => return None,
            };
            let value = parse_small(it.next()?)?;
            if it.next().is_some() || value > MAX_STRENGTH {
                return None;
            }
            Some(AppCommand::Strength {
                channel,
                mode,
                value,
            })
        } else if let Some(rest) = s.strip_prefix("pulse-") {
            let (ch, list) = rest.split_once(':')?;
            let channel = match ch {
                "A" => Channel::A,
                "B" => Channel::B,
                _ => return None,
            };
            let hex: Vec<String> = serde_json::from_str(list).ok()?;
            if hex.is_empty() || hex.len() > MAX_PULSE_FRAMES {
                return None;
            }
            let frames = hex
                .iter()
                .map(|h| Frame::from_hex(h).ok())
                .collect::<Option<Vec<_>>>()?;
            Some(AppCommand::Pulse { channel, frames })
        } else if let Some(rest) = s.strip_prefix("clear-") {
            Some(AppCommand::Clear(Channel::from_number(parse_small(rest)?)?))
        } else {
            None
        }
    }
}

/// `pulse-A:["0A0A0A0A00000000",...]` without building intermediate strings per frame.
pub fn format_pulse(channel: Channel, frames: &[Frame]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(9 + frames.len() * 19);
    s.push_str("pulse-");
    s.push_str(channel.letter());
    s.push_str(":[");
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Writing into a String cannot fail.
        let _ = write!(s, "\"{f}\"");
    }
    s.push(']');
    s
}

/// A report from the App to its terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AppReport {
    /// `strength-<a>+<b>+<limitA>+<limitB>`: current strengths and soft limits.
    Strength(StrengthReport),
    /// `feedback-<0..9>`: 0..=4 are A's five buttons left to right, 5..=9 B's.
    Feedback(FeedbackButton),
}

/// The App's current strengths and soft limits, each 0..=200.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct StrengthReport {
    /// Channel A's current strength.
    pub a: u8,
    /// Channel B's current strength.
    pub b: u8,
    /// Channel A's soft limit, set by the user in the App.
    pub limit_a: u8,
    /// Channel B's soft limit.
    pub limit_b: u8,
}

/// One of the App's ten feedback buttons. Serialized as `{index, channel, position}` so a
/// UI can draw it without knowing the wire numbering (and so it fits in a tagged event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FeedbackButton(u8);

impl serde::Serialize for FeedbackButton {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("FeedbackButton", 3)?;
        st.serialize_field("index", &self.0)?;
        st.serialize_field("channel", &self.channel())?;
        st.serialize_field("position", &self.position())?;
        st.end()
    }
}

impl<'de> serde::Deserialize<'de> for FeedbackButton {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Repr {
            index: u8,
        }
        let r = Repr::deserialize(d)?;
        FeedbackButton::new(r.index)
            .ok_or_else(|| serde::de::Error::custom("feedback button index is 0..=9"))
    }
}

impl FeedbackButton {
    /// Button 0..=9; `None` otherwise.
    pub fn new(index: u8) -> Option<Self> {
        (index <= 9).then_some(FeedbackButton(index))
    }
    /// The wire index 0..=9.
    pub fn index(self) -> u8 {
        self.0
    }
    /// The channel the button belongs to.
    pub fn channel(self) -> Channel {
        if self.0 < 5 {
            Channel::A
        } else {
            Channel::B
        }
    }
    /// Position 0..=4 among its channel's buttons (○ △ □ ☆ ⬡ in the App).
    pub fn position(self) -> u8 {
        self.0 % 5
    }
}

impl AppReport {
    /// The `message` text.
    pub fn format(&self) -> String {
        match self {
            AppReport::Strength(r) => {
                format!("strength-{}+{}+{}+{}", r.a, r.b, r.limit_a, r.limit_b)
            }
            AppReport::Feedback(b) => format!("feedback-{}", b.0),
        }
    }

    /// Parses a `message`; `None` if it is not a well-formed report.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(rest) = s.strip_prefix("strength-") {
            let mut v = [0u8; 4];
            let mut it = rest.split('+');
            for slot in &mut v {
                *slot = parse_small(it.next()?)?;
                if *slot > MAX_STRENGTH {
                    return None;
                }
            }
            if it.next().is_some() {
                return None;
            }
            Some(AppReport::Strength(StrengthReport {
                a: v[0],
                b: v[1],
                limit_a: v[2],
                limit_b: v[3],
            }))
        } else if let Some(rest) = s.strip_prefix("feedback-") {
            Some(AppReport::Feedback(FeedbackButton::new(parse_small(
                rest,
            )?)?))
        } else {
            None
        }
    }
}

/// A decimal 0..=255 with no sign, spaces or leading `+`; at most 3 digits.
fn parse_small(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_from_protocol_md() {
        let set = AppCommand::parse("strength-1+2+35").unwrap();
        assert_eq!(
            set,
            AppCommand::Strength {
                channel: Channel::A,
                mode: StrengthMode::Set,
                value: 35
            }
        );
        assert_eq!(set.format(), "strength-1+2+35");
        assert_eq!(
            AppCommand::parse("clear-2"),
            Some(AppCommand::Clear(Channel::B))
        );
        let p = AppCommand::parse(r#"pulse-A:["0a0a0a0a00000000","0A0A0A0A64646464"]"#).unwrap();
        assert_eq!(
            p.format(),
            r#"pulse-A:["0A0A0A0A00000000","0A0A0A0A64646464"]"#
        );
        assert_eq!(
            AppReport::parse("strength-10+0+100+35"),
            Some(AppReport::Strength(StrengthReport {
                a: 10,
                b: 0,
                limit_a: 100,
                limit_b: 35
            }))
        );
        assert_eq!(
            AppReport::parse("feedback-7").unwrap().format(),
            "feedback-7"
        );
    }

    #[test]
    fn malformed_commands_are_refused() {
        for bad in [
            "strength-3+2+1",
            "strength-1+3+1",
            "strength-1+2+201",
            "strength-1+2+-1",
            "strength-1+2",
            "strength-1+2+1+1",
            "strength-01+2+1x",
            "pulse-C:[\"0A0A0A0A00000000\"]",
            "pulse-A:[]",
            "pulse-A:[\"0A0A0A0A00000065\"]",
            "pulse-A:0A0A0A0A00000000",
            "clear-3",
            "clear-",
            "",
        ] {
            assert_eq!(AppCommand::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn malformed_reports_are_refused() {
        for bad in [
            "feedback-10",
            "feedback-",
            "strength-1+2+3",
            "strength-1+2+3+201",
            "strength-1+2+3+4+5",
            "strength-a+2+3+4",
            "",
        ] {
            assert_eq!(AppReport::parse(bad), None, "{bad}");
        }
    }
}
