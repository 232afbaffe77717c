//! One 100 ms waveform frame as the App plays it.
//!
//! A frame is four 25 ms slots, each a frequency byte (10..=240) and an intensity
//! (0..=100), written on the wire as 16 hex characters: the four frequency bytes, then the
//! four intensities. The App drops a frame with any byte out of range, so a [`Frame`] can
//! only be built valid.

use std::fmt;
use std::str::FromStr;

/// Lowest and highest frequency byte the App accepts.
pub const FREQ_BYTE_RANGE: std::ops::RangeInclusive<u8> = 10..=240;
/// Lowest and highest intensity the App accepts.
pub const INTENSITY_RANGE: std::ops::RangeInclusive<u8> = 0..=100;

/// A validated 100 ms frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    freq: [u8; 4],
    intensity: [u8; 4],
}

/// Why bytes or text do not make a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The hex text is not 16 hex digits.
    #[error("a frame is 16 hex digits, got {0:?}")]
    BadHex(String),
    /// A frequency byte lies outside 10..=240.
    #[error("frequency byte {index} is {value}, must be within 10..=240")]
    Frequency {
        /// Slot 0..=3.
        index: usize,
        /// The offending byte.
        value: u8,
    },
    /// An intensity lies outside 0..=100.
    #[error("intensity byte {index} is {value}, must be within 0..=100")]
    Intensity {
        /// Slot 0..=3.
        index: usize,
        /// The offending byte.
        value: u8,
    },
}

impl Frame {
    /// The silent frame the App uses for rest: frequency 10, intensity 0.
    pub const SILENT: Frame = Frame {
        freq: [10; 4],
        intensity: [0; 4],
    };

    /// Builds a frame from its four frequency bytes and four intensities.
    ///
    /// # Errors
    /// [`FrameError`] naming the first byte out of range.
    pub fn new(freq: [u8; 4], intensity: [u8; 4]) -> Result<Self, FrameError> {
        for (index, &value) in freq.iter().enumerate() {
            if !FREQ_BYTE_RANGE.contains(&value) {
                return Err(FrameError::Frequency { index, value });
            }
        }
        for (index, &value) in intensity.iter().enumerate() {
            if !INTENSITY_RANGE.contains(&value) {
                return Err(FrameError::Intensity { index, value });
            }
        }
        Ok(Frame { freq, intensity })
    }

    /// A frame whose four slots are the same.
    ///
    /// # Errors
    /// As [`Frame::new`].
    pub fn uniform(freq: u8, intensity: u8) -> Result<Self, FrameError> {
        Frame::new([freq; 4], [intensity; 4])
    }

    /// The four frequency bytes.
    pub fn freq(&self) -> [u8; 4] {
        self.freq
    }

    /// The four intensities.
    pub fn intensity(&self) -> [u8; 4] {
        self.intensity
    }

    /// Parses 16 hex digits, either case.
    ///
    /// # Errors
    /// [`FrameError`] if the text is not 16 hex digits or a byte is out of range.
    pub fn from_hex(text: &str) -> Result<Self, FrameError> {
        let b = text.as_bytes();
        if b.len() != 16 {
            return Err(FrameError::BadHex(text.chars().take(40).collect()));
        }
        let mut bytes = [0u8; 8];
        for (i, out) in bytes.iter_mut().enumerate() {
            let hi = hex_val(b[2 * i]);
            let lo = hex_val(b[2 * i + 1]);
            match (hi, lo) {
                (Some(h), Some(l)) => *out = h << 4 | l,
                _ => return Err(FrameError::BadHex(text.to_owned())),
            }
        }
        Frame::new(
            [bytes[0], bytes[1], bytes[2], bytes[3]],
            [bytes[4], bytes[5], bytes[6], bytes[7]],
        )
    }

    /// The 16 upper-case hex digits the App expects.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.freq.iter().chain(self.intensity.iter()) {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl FromStr for Frame {
    type Err = FrameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Frame::from_hex(s)
    }
}

impl serde::Serialize for Frame {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Frame {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Frame::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Frequency in Hz (10..=1000) → frame byte, as docs/protocol.md gives it: 10..=100 unchanged,
/// 101..=600 → (f − 100) / 5 + 100, 601..=1000 → (f − 600) / 10 + 200, anything else → 10.
pub fn hz_to_byte(hz: u32) -> u8 {
    match hz {
        10..=100 => hz as u8,
        101..=600 => ((hz - 100) / 5 + 100) as u8,
        601..=1000 => ((hz - 600) / 10 + 200) as u8,
        _ => 10,
    }
}

/// Frame byte → the lowest frequency in Hz that maps to it (the inverse of [`hz_to_byte`]
/// on its image); bytes outside 10..=240 give `None`.
pub fn byte_to_hz(byte: u8) -> Option<u32> {
    let b = u32::from(byte);
    match byte {
        10..=100 => Some(b),
        101..=200 => Some((b - 100) * 5 + 100),
        201..=240 => Some((b - 200) * 10 + 600),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_upper_case_out() {
        let f = Frame::from_hex("0a0a0a0a64646464").unwrap();
        assert_eq!(f.to_hex(), "0A0A0A0A64646464");
        assert_eq!(Frame::SILENT.to_hex(), "0A0A0A0A00000000");
    }

    #[test]
    fn out_of_range_bytes_are_named() {
        assert_eq!(
            Frame::from_hex("0A0A0A0A00650000"),
            Err(FrameError::Intensity {
                index: 1,
                value: 0x65
            })
        );
        assert_eq!(
            Frame::from_hex("0A0AF10A00000000"),
            Err(FrameError::Frequency {
                index: 2,
                value: 0xF1
            })
        );
        assert!(matches!(
            Frame::from_hex("0A0A"),
            Err(FrameError::BadHex(_))
        ));
        assert!(matches!(
            Frame::from_hex("0A0A0A0A0000000G"),
            Err(FrameError::BadHex(_))
        ));
    }

    #[test]
    fn hz_mapping_matches_protocol() {
        assert_eq!(hz_to_byte(10), 10);
        assert_eq!(hz_to_byte(100), 100);
        assert_eq!(hz_to_byte(102), 100);
        assert_eq!(hz_to_byte(110), 102);
        assert_eq!(hz_to_byte(550), 190);
        assert_eq!(hz_to_byte(600), 200);
        assert_eq!(hz_to_byte(1000), 240);
        assert_eq!(hz_to_byte(5), 10);
        assert_eq!(hz_to_byte(1001), 10);
        for b in 10..=240u8 {
            assert_eq!(hz_to_byte(byte_to_hz(b).unwrap()), b);
        }
    }
}
