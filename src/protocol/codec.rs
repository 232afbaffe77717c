//! Envelope ↔ JSON text.
//!
//! Decoding accepts exactly what docs/protocol.md allows: a JSON object whose `type`, `clientId`,
//! `targetId` and `message` are strings (extra keys are ignored), plus the vendor web page's
//! "front-end" shapes (`type` 1–4 or `"clientMsg"`), which the relay translates. Anything
//! else is a [`DecodeError`]: only what is not a JSON object at all maps to code 403; the
//! relay answers a JSON object with the wrong fields by its ids (404 not owned, 402 not
//! paired, else `error` `406-<field> is invalid`, in the style of the vendor relay's
//! `406-channel is empty`). Encoding produces compact JSON in the wire's key order and
//! refuses a frame the App would drop for length (405).

use super::{wire_len, Code, Envelope, MessageType, MAX_FRAME_CHARS};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;

/// Why a text frame could not be decoded. The connection carries on either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a JSON object at all (`null`, an array, a number, invalid JSON).
    #[error("frame is not a JSON object")]
    NotObject,
    /// A JSON object, but a field is missing or not a string.
    #[error("frame field `{0}` is missing or not a string")]
    BadField(&'static str),
    /// `type` is none of the five types nor a front-end shape.
    #[error("unknown frame type")]
    UnknownType,
    /// A front-end shape with an invalid `channel`, `strength` or `time`.
    #[error("front-end frame has an invalid `{0}`")]
    BadFrontEnd(&'static str),
}

impl DecodeError {
    /// The protocol code for this error on its own: 403 when the frame is not a JSON
    /// object. `None` for a JSON object with a bad field, which the relay answers according
    /// to the ids it names (see [`object_ids`]).
    pub fn code(&self) -> Option<Code> {
        match self {
            DecodeError::NotObject => Some(Code::NotJson),
            _ => None,
        }
    }

    /// The field at fault (`"type"` for an unknown type), for a `406-<field> is invalid`.
    pub fn field(&self) -> &'static str {
        match self {
            DecodeError::NotObject | DecodeError::UnknownType => "type",
            DecodeError::BadField(f) | DecodeError::BadFrontEnd(f) => f,
        }
    }
}

/// The `clientId` and `targetId` of a JSON object frame, where they are strings: what an
/// undecodable object claims to speak for, to answer it with the right code.
pub fn object_ids(text: &str) -> (Option<String>, Option<String>) {
    #[derive(Deserialize)]
    struct Ids {
        #[serde(rename = "clientId", default)]
        client_id: Option<Value>,
        #[serde(rename = "targetId", default)]
        target_id: Option<Value>,
    }
    let s = |v: Option<Value>| match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    match serde_json::from_str::<Ids>(text) {
        Ok(ids) if text.trim_start().starts_with('{') => (s(ids.client_id), s(ids.target_id)),
        _ => (None, None),
    }
}

/// The frame would exceed the App's 1950-character limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame of {len} characters exceeds the App's limit of {MAX_FRAME_CHARS}")]
pub struct TooLong {
    /// Length of the serialized frame, in UTF-16 code units.
    pub len: usize,
}

/// A decoded inbound frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A protocol envelope.
    Envelope(Envelope),
    /// One of the vendor web page's shapes, to be translated by the relay.
    FrontEnd(FrontEnd),
}

/// The vendor web page's "front-end protocol" (docs/protocol.md, last section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontEnd {
    /// The terminal id named in the frame.
    pub client_id: String,
    /// The App id named in the frame.
    pub target_id: String,
    /// What to do.
    pub action: FrontEndAction,
}

/// What a front-end frame asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontEndAction {
    /// Types 1–3: a strength change on channel 1 or 2, already translated to the App
    /// command (`strength-<ch>+<mode>+<value>`).
    Strength(String),
    /// Type 4: forward `message` to the App as-is.
    Raw(String),
    /// `clientMsg`: send `pulse-<message>` once a second for `seconds` seconds.
    Repeat {
        /// 1 = A, 2 = B: the channel whose repeat this replaces.
        channel: u8,
        /// The App command sent on every repeat (`pulse-A:[...]`).
        command: String,
        /// How many seconds (and so sends) the repeat lasts.
        seconds: u32,
    },
    /// `clientMsg` without a channel: answered with type `error`, `406-channel is empty`.
    MissingChannel,
}

/// Longest `clientMsg` repeat we honour, in seconds (a day); the vendor relay has no bound.
pub const MAX_REPEAT_SECONDS: u32 = 86_400;

/// The common case, parsed without building a JSON tree: four strings, borrowed from the
/// frame unless they contain escapes.
#[derive(Deserialize)]
struct PlainFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(rename = "clientId", borrow)]
    client_id: Cow<'a, str>,
    #[serde(rename = "targetId", borrow)]
    target_id: Cow<'a, str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// Everything else (front-end shapes, wrong types), parsed field by field to say what is
/// wrong.
#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type", default)]
    kind: Option<Value>,
    #[serde(rename = "clientId", default)]
    client_id: Option<Value>,
    #[serde(rename = "targetId", default)]
    target_id: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    channel: Option<Value>,
    #[serde(default)]
    strength: Option<Value>,
    #[serde(default)]
    time: Option<Value>,
}

fn take_string(v: Option<Value>, name: &'static str) -> Result<String, DecodeError> {
    match v {
        Some(Value::String(s)) => Ok(s),
        _ => Err(DecodeError::BadField(name)),
    }
}

/// Decodes one text frame.
///
/// # Errors
/// [`DecodeError`] for anything that is not a protocol envelope or a front-end shape.
pub fn decode(text: &str) -> Result<Inbound, DecodeError> {
    // serde's derived struct visitor would also accept a JSON array positionally; the wire
    // only has objects, so look at the first significant byte before parsing.
    if !text.trim_start().starts_with('{') {
        return Err(DecodeError::NotObject);
    }
    if let Ok(plain) = serde_json::from_str::<PlainFrame<'_>>(text) {
        if let Some(kind) = MessageType::from_wire(&plain.kind) {
            return Ok(Inbound::Envelope(Envelope {
                kind,
                client_id: plain.client_id.into_owned(),
                target_id: plain.target_id.into_owned(),
                message: plain.message.into_owned(),
            }));
        }
    }
    let raw: RawFrame = serde_json::from_str(text).map_err(|_| {
        // Distinguish "valid JSON object, wrong field types" from "not JSON" only for the
        // error text: both are 403.
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(_)) => DecodeError::BadField("type"),
            _ => DecodeError::NotObject,
        }
    })?;
    match raw.kind {
        Some(Value::String(ref t)) if t == "clientMsg" => decode_client_msg(raw),
        Some(Value::String(t)) => {
            let kind = MessageType::from_wire(&t).ok_or(DecodeError::UnknownType)?;
            if kind == MessageType::Heartbeat {
                // A terminal's keep-alive, often without `targetId` (or `message`): the relay
                // ignores its content anyway, so take it as it is.
                let opt = |v: Option<Value>| match v {
                    Some(Value::String(s)) => s,
                    _ => String::new(),
                };
                return Ok(Inbound::Envelope(Envelope {
                    kind,
                    client_id: opt(raw.client_id),
                    target_id: opt(raw.target_id),
                    message: opt(raw.message),
                }));
            }
            Ok(Inbound::Envelope(Envelope {
                kind,
                client_id: take_string(raw.client_id, "clientId")?,
                target_id: take_string(raw.target_id, "targetId")?,
                message: take_string(raw.message, "message")?,
            }))
        }
        Some(Value::Number(ref n)) => decode_numbered(n.as_u64(), raw),
        None => Err(DecodeError::BadField("type")),
        Some(_) => Err(DecodeError::BadField("type")),
    }
}

/// Channel of a front-end frame: 1 or 2, as a number or a numeric string; absent means 1.
fn front_channel(v: &Option<Value>) -> Result<u8, DecodeError> {
    let n = match v {
        None | Some(Value::Null) => return Ok(1),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match n {
        Some(1) => Ok(1),
        Some(2) => Ok(2),
        _ => Err(DecodeError::BadFrontEnd("channel")),
    }
}

fn decode_numbered(kind: Option<u64>, raw: RawFrame) -> Result<Inbound, DecodeError> {
    let kind = kind.ok_or(DecodeError::UnknownType)?;
    if !(1..=4).contains(&kind) {
        return Err(DecodeError::UnknownType);
    }
    let client_id = take_string(raw.client_id, "clientId")?;
    let target_id = take_string(raw.target_id, "targetId")?;
    let action = if kind == 4 {
        FrontEndAction::Raw(take_string(raw.message, "message")?)
    } else {
        let ch = front_channel(&raw.channel)?;
        // The vendor relay forces the step of types 1 and 2 to 1: the App moves ±1 anyway.
        let cmd = match kind {
            1 => format!("strength-{ch}+0+1"),
            2 => format!("strength-{ch}+1+1"),
            _ => {
                let value = match &raw.strength {
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
                    _ => None,
                }
                .filter(|v| *v <= 200)
                .ok_or(DecodeError::BadFrontEnd("strength"))?;
                format!("strength-{ch}+2+{value}")
            }
        };
        FrontEndAction::Strength(cmd)
    };
    Ok(Inbound::FrontEnd(FrontEnd {
        client_id,
        target_id,
        action,
    }))
}

fn decode_client_msg(raw: RawFrame) -> Result<Inbound, DecodeError> {
    let client_id = take_string(raw.client_id, "clientId")?;
    let target_id = take_string(raw.target_id, "targetId")?;
    let message = take_string(raw.message, "message")?;
    let channel = match &raw.channel {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s == "A" || s == "1" => Some(1),
        Some(Value::String(s)) if s == "B" || s == "2" => Some(2),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Some(1),
        Some(Value::Number(n)) if n.as_u64() == Some(2) => Some(2),
        Some(_) => return Err(DecodeError::BadFrontEnd("channel")),
    };
    let Some(channel) = channel else {
        return Ok(Inbound::FrontEnd(FrontEnd {
            client_id,
            target_id,
            action: FrontEndAction::MissingChannel,
        }));
    };
    let seconds = match &raw.time {
        None | Some(Value::Null) => 5,
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64))
            .ok_or(DecodeError::BadFrontEnd("time"))?,
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| DecodeError::BadFrontEnd("time"))?,
        Some(_) => return Err(DecodeError::BadFrontEnd("time")),
    };
    if seconds == 0 || seconds > u64::from(MAX_REPEAT_SECONDS) {
        return Err(DecodeError::BadFrontEnd("time"));
    }
    // The message names its channel itself ("A:[...]"); it must agree with `channel`, or the
    // App would play on one channel what the page's clear was meant for on the other.
    let letter = if channel == 1 { "A:" } else { "B:" };
    if !message.starts_with(letter) {
        return Err(DecodeError::BadFrontEnd("message"));
    }
    let command = format!("pulse-{message}");
    if !pulse_list_ok(&message[2..]) {
        return Err(DecodeError::BadFrontEnd("message"));
    }
    Ok(Inbound::FrontEnd(FrontEnd {
        client_id,
        target_id,
        action: FrontEndAction::Repeat {
            channel,
            command,
            seconds: seconds as u32,
        },
    }))
}

/// Whether `list` is what the App takes after `pulse-A:`: a JSON array of 1 to 100 strings
/// of 16 hex digits. Only the form is checked, as the App does: a `pulse-` `msg` is relayed
/// as is, and a `clientMsg` carrying the same frames must pass too (`0000000000000000`
/// included, which the waveform type would refuse for its frequency byte).
fn pulse_list_ok(list: &str) -> bool {
    let Ok(frames) = serde_json::from_str::<Vec<Cow<'_, str>>>(list) else {
        return false;
    };
    (1..=100).contains(&frames.len())
        && frames
            .iter()
            .all(|f| f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Serializes an envelope as compact JSON (`type`, `clientId`, `targetId`, `message`).
///
/// # Errors
/// [`TooLong`] if the App would drop the frame for its length.
pub fn encode(env: &Envelope) -> Result<String, TooLong> {
    let text = encode_unchecked(env);
    let len = wire_len(&text);
    if len > MAX_FRAME_CHARS {
        return Err(TooLong { len });
    }
    Ok(text)
}

/// Serializes without the length check: for frames to peers that are not the App
/// (error replies echo nothing long, so they always fit anyway).
pub fn encode_unchecked(env: &Envelope) -> String {
    let mut out =
        String::with_capacity(56 + env.client_id.len() + env.target_id.len() + env.message.len());
    out.push_str("{\"type\":\"");
    out.push_str(env.kind.as_str());
    out.push_str("\",\"clientId\":");
    push_json_str(&mut out, &env.client_id);
    out.push_str(",\"targetId\":");
    push_json_str(&mut out, &env.target_id);
    out.push_str(",\"message\":");
    push_json_str(&mut out, &env.message);
    out.push('}');
    out
}

/// Appends `s` as a JSON string literal, escaped exactly as JSON requires (non-ASCII
/// stays as is, like serde_json does).
fn push_json_str(out: &mut String, s: &str) {
    use std::fmt::Write;
    let bytes = s.as_bytes();
    out.push('"');
    let mut start = 0;
    // Copy runs of plain bytes whole; only quotes, backslashes and control bytes need work.
    while let Some(off) = bytes[start..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let i = start + off;
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            // Writing into a String cannot fail.
            b => drop(write!(out, "\\u{b:04x}")),
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_envelope_and_ignores_extra_keys() {
        let got = decode(r#"{"type":"msg","clientId":"a","targetId":"b","message":"m","x":1}"#);
        assert_eq!(
            got,
            Ok(Inbound::Envelope(Envelope::new(
                MessageType::Msg,
                "a",
                "b",
                "m"
            )))
        );
    }

    #[test]
    fn rejects_non_objects_and_wrong_types() {
        for bad in [
            "null",
            "[]",
            r#"["msg","a","b","c"]"#,
            "42",
            "\"s\"",
            "",
            "{",
            r#"{"type":"msg","clientId":1,"targetId":"b","message":"m"}"#,
            r#"{"type":"msg","clientId":"a","targetId":"b"}"#,
            r#"{"type":"msg","clientId":"a","targetId":"b","message":null}"#,
            r#"{"type":"nope","clientId":"a","targetId":"b","message":"m"}"#,
            r#"{"type":7,"clientId":"a","targetId":"b","message":"m"}"#,
        ] {
            assert!(decode(bad).is_err(), "{bad:?} must be rejected");
        }
        for not_object in ["null", "[]", "42", "\"s\"", "", "{"] {
            assert_eq!(decode(not_object).unwrap_err().code(), Some(Code::NotJson));
        }
        let obj = r#"{"type":"msg","clientId":"a","targetId":1}"#;
        assert_eq!(decode(obj).unwrap_err().code(), None);
        assert_eq!(object_ids(obj), (Some("a".into()), None));
    }

    #[test]
    fn heartbeat_without_target_and_client_msg_with_any_hex_frames_decode() {
        let hb = decode(r#"{"type":"heartbeat","clientId":"t","message":"200"}"#).unwrap();
        assert_eq!(
            hb,
            Inbound::Envelope(Envelope::new(MessageType::Heartbeat, "t", "", "200"))
        );
        let cm = r#"{"type":"clientMsg","channel":"A","time":1,"clientId":"a","targetId":"b","message":"A:[\"0000000000000000\"]"}"#;
        assert!(decode(cm).is_ok());
        let bad = r#"{"type":"clientMsg","channel":"A","time":1,"clientId":"a","targetId":"b","message":"A:[\"00000000000000\"]"}"#;
        assert_eq!(decode(bad), Err(DecodeError::BadFrontEnd("message")));
    }

    #[test]
    fn translates_front_end_strength() {
        let f = |s: &str| match decode(s).unwrap() {
            Inbound::FrontEnd(FrontEnd {
                action: FrontEndAction::Strength(c),
                ..
            }) => c,
            other => panic!("{other:?}"),
        };
        let base = r#""clientId":"a","targetId":"b","message":"set channel""#;
        assert_eq!(
            f(&format!(r#"{{"type":1,"channel":2,"strength":9,{base}}}"#)),
            "strength-2+0+1"
        );
        assert_eq!(
            f(&format!(r#"{{"type":2,"strength":9,{base}}}"#)),
            "strength-1+1+1"
        );
        assert_eq!(
            f(&format!(r#"{{"type":3,"channel":1,"strength":35,{base}}}"#)),
            "strength-1+2+35"
        );
        assert!(decode(&format!(
            r#"{{"type":3,"channel":1,"strength":201,{base}}}"#
        ))
        .is_err());
        assert!(decode(&format!(r#"{{"type":3,"channel":3,"strength":1,{base}}}"#)).is_err());
    }

    #[test]
    fn translates_client_msg() {
        let s = r#"{"type":"clientMsg","channel":"B","time":3,"clientId":"a","targetId":"b","message":"B:[\"0A0A0A0A64646464\"]"}"#;
        match decode(s).unwrap() {
            Inbound::FrontEnd(FrontEnd {
                action:
                    FrontEndAction::Repeat {
                        channel,
                        command,
                        seconds,
                    },
                ..
            }) => {
                assert_eq!((channel, seconds), (2, 3));
                assert_eq!(command, r#"pulse-B:["0A0A0A0A64646464"]"#);
            }
            other => panic!("{other:?}"),
        }
        let no_channel = r#"{"type":"clientMsg","clientId":"a","targetId":"b","message":"A:[]"}"#;
        assert!(matches!(
            decode(no_channel),
            Ok(Inbound::FrontEnd(FrontEnd {
                action: FrontEndAction::MissingChannel,
                ..
            }))
        ));
    }

    #[test]
    fn encodes_in_wire_order_and_checks_length() {
        let env = Envelope::new(MessageType::Bind, "c", "", "targetId");
        assert_eq!(
            encode(&env).unwrap(),
            r#"{"type":"bind","clientId":"c","targetId":"","message":"targetId"}"#
        );
        let quoted = Envelope::new(MessageType::Msg, "c", "t", "a\"b\\é");
        let text = encode(&quoted).unwrap();
        assert_eq!(decode(&text), Ok(Inbound::Envelope(quoted)));
        let long = Envelope::new(MessageType::Msg, "c", "t", "x".repeat(MAX_FRAME_CHARS));
        assert!(encode(&long).is_err());
    }
}
