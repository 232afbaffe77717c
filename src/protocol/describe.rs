//! What a frame means, in a form a window can word in any language: a kind and its
//! parameters ([`Meaning`], serialized as `{"kind": …, "params": {…}}`), plus an English
//! sentence ([`Meaning`]'s `Display`) for the command line.
//!
//! Pure and forgiving: [`describe`] takes any text a peer may send and never fails; what
//! it cannot read is [`Meaning::NotJson`], [`Meaning::Invalid`] or [`Meaning::Message`].
//! It reads with the codec and the typed commands, so it means what the relay and the App
//! would make of the frame.

use super::codec::{self, FrontEndAction, Inbound};
use super::command::{AppCommand, AppReport, StrengthMode};
use super::{Code, Envelope, MessageType, BIND_MESSAGE, TARGET_ID_MESSAGE};
use serde::Serialize;
use std::fmt;

/// Longest piece of peer text a meaning quotes.
const MAX_QUOTE_CHARS: usize = 80;

/// What one frame means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum Meaning {
    /// The relay's first frame: "your id is …".
    IdAssigned {
        /// The id handed out.
        id: String,
    },
    /// The App asks to pair with a terminal.
    BindRequest {
        /// The terminal's id.
        terminal: String,
        /// The App's id.
        app: String,
    },
    /// The relay paired them (bind 200).
    Paired {
        /// The terminal's id.
        terminal: String,
        /// The App's id.
        app: String,
    },
    /// A `bind` answered with an error code.
    BindRefused {
        /// The code (400, 401, 402, 404…).
        code: u16,
        /// Its meaning as a key ([`code_key`]).
        reason: &'static str,
    },
    /// `strength-<ch>+2+<v>`.
    StrengthSet {
        /// "A" or "B".
        channel: &'static str,
        /// The new strength.
        value: u8,
    },
    /// `strength-<ch>+1+…`: up by one.
    StrengthUp {
        /// "A" or "B".
        channel: &'static str,
    },
    /// `strength-<ch>+0+…`: down by one.
    StrengthDown {
        /// "A" or "B".
        channel: &'static str,
    },
    /// The App's report `strength-a+b+limitA+limitB`.
    StrengthReport {
        /// A's strength.
        a: u8,
        /// B's strength.
        b: u8,
        /// A's soft limit.
        limit_a: u8,
        /// B's soft limit.
        limit_b: u8,
    },
    /// `pulse-<ch>:[…]`.
    Pulse {
        /// "A" or "B".
        channel: &'static str,
        /// Frames in the message.
        frames: usize,
        /// How long they play (100 ms each).
        ms: u64,
    },
    /// `clear-<ch>`: the App empties that channel's waveform queue.
    Clear {
        /// "A" or "B".
        channel: &'static str,
    },
    /// `feedback-<n>`: the user pressed one of the App's buttons.
    Feedback {
        /// 0..=9 as on the wire.
        button: u8,
        /// "A" or "B".
        channel: &'static str,
        /// 0..=4 among the channel's buttons.
        position: u8,
    },
    /// The vendor page's `clientMsg`: the same pulse once a second for a while.
    Repeat {
        /// "A" or "B".
        channel: &'static str,
        /// How many seconds.
        seconds: u32,
        /// Frames in each pulse.
        frames: usize,
    },
    /// A `msg` or `error` carrying a protocol code.
    Code {
        /// The code.
        code: u16,
        /// Its meaning as a key ([`code_key`]).
        reason: &'static str,
    },
    /// A keep-alive.
    Heartbeat,
    /// The partner left (`break`).
    Break {
        /// The code, normally 209.
        code: String,
    },
    /// An `error` frame that carries no known code (`406-channel is empty`).
    RelayError {
        /// Its message, cut short.
        message: String,
    },
    /// A `msg` whose message is none of the above.
    Message {
        /// The message, cut short.
        text: String,
    },
    /// Not a JSON object: the relay answers 403.
    NotJson,
    /// A JSON object that is no valid frame.
    Invalid {
        /// The field at fault.
        field: &'static str,
    },
    /// A plain HTTP request the relay refused (not a frame; from the listener).
    HttpRefused {
        /// The status it was answered with.
        status: u16,
        /// The path asked for, escaped and cut short.
        path: String,
    },
}

/// A short, stable key for what a code means (for a window to word): `already_paired`,
/// `not_paired`, …; `unknown` for a number the protocol does not define.
pub fn code_key(code: u16) -> &'static str {
    match code {
        200 => "success",
        209 => "peer_left",
        210 => "qr_without_terminal_id",
        211 => "no_id_from_relay",
        400 => "already_paired",
        401 => "terminal_not_connected",
        402 => "not_paired",
        403 => "not_json",
        404 => "not_found",
        405 => "too_long",
        423 => "refused_by_safety",
        500 => "relay_error",
        _ => "unknown",
    }
}

/// [`code_key`] in English words.
fn code_words(code: u16) -> &'static str {
    match code {
        200 => "success",
        209 => "the partner left",
        210 => "the QR code holds no valid terminal id",
        211 => "the relay handed out no id",
        400 => "already paired",
        401 => "the terminal is not connected",
        402 => "not paired",
        403 => "not a JSON object",
        404 => "ids not owned by the sender",
        405 => "frame longer than 1950 characters",
        423 => "refused by the safety policy",
        500 => "relay error",
        _ => "unknown code",
    }
}

/// What the relay's HTTP statuses mean for a phone.
fn http_words(status: u16) -> &'static str {
    match status {
        400 => "malformed request",
        405 => "only GET is served",
        426 => "a plain page request on the App's WebSocket path",
        431 => "request head too large",
        _ => "refused",
    }
}

/// What `raw` (one text frame, as on the wire) means.
pub fn describe(raw: &str) -> Meaning {
    match codec::decode(raw) {
        Ok(Inbound::Envelope(env)) => envelope(&env),
        Ok(Inbound::FrontEnd(fe)) => match fe.action {
            FrontEndAction::Strength(cmd) | FrontEndAction::Raw(cmd) => message(&cmd),
            FrontEndAction::Repeat {
                channel,
                command,
                seconds,
            } => Meaning::Repeat {
                channel: if channel == 1 { "A" } else { "B" },
                seconds,
                frames: pulse_frames(&command).map_or(0, |(_, n)| n),
            },
            FrontEndAction::MissingChannel => Meaning::Invalid { field: "channel" },
        },
        Err(e) if e.code().is_some() => Meaning::NotJson,
        Err(e) => Meaning::Invalid { field: e.field() },
    }
}

fn envelope(env: &Envelope) -> Meaning {
    let code = || env.message.parse::<u16>().ok();
    match env.kind {
        MessageType::Bind if env.message == TARGET_ID_MESSAGE => Meaning::IdAssigned {
            id: quote(&env.client_id),
        },
        MessageType::Bind if env.message == BIND_MESSAGE => Meaning::BindRequest {
            terminal: quote(&env.client_id),
            app: quote(&env.target_id),
        },
        MessageType::Bind if env.message == Code::Success.as_message() => Meaning::Paired {
            terminal: quote(&env.client_id),
            app: quote(&env.target_id),
        },
        MessageType::Bind => match code() {
            Some(code) => Meaning::BindRefused {
                code,
                reason: code_key(code),
            },
            None => Meaning::Message {
                text: quote(&env.message),
            },
        },
        MessageType::Msg => message(&env.message),
        MessageType::Heartbeat => Meaning::Heartbeat,
        MessageType::Break => Meaning::Break {
            code: quote(&env.message),
        },
        MessageType::Error => match code() {
            Some(code) => Meaning::Code {
                code,
                reason: code_key(code),
            },
            None => Meaning::RelayError {
                message: quote(&env.message),
            },
        },
    }
}

/// A `msg`'s message: a command, a report, a code, or text.
fn message(m: &str) -> Meaning {
    if let Some(cmd) = AppCommand::parse(m) {
        return match cmd {
            AppCommand::Strength {
                channel,
                mode: StrengthMode::Set,
                value,
            } => Meaning::StrengthSet {
                channel: channel.letter(),
                value,
            },
            AppCommand::Strength {
                channel,
                mode: StrengthMode::Increase,
                ..
            } => Meaning::StrengthUp {
                channel: channel.letter(),
            },
            AppCommand::Strength { channel, .. } => Meaning::StrengthDown {
                channel: channel.letter(),
            },
            AppCommand::Pulse { channel, frames } => Meaning::Pulse {
                channel: channel.letter(),
                frames: frames.len(),
                ms: frames.len() as u64 * 100,
            },
            AppCommand::Clear(channel) => Meaning::Clear {
                channel: channel.letter(),
            },
        };
    }
    // The App plays what has the form of a frame list even where the typed command would
    // refuse a byte; say what it is rather than "unknown".
    if let Some((channel, frames)) = pulse_frames(m) {
        return Meaning::Pulse {
            channel,
            frames,
            ms: frames as u64 * 100,
        };
    }
    match AppReport::parse(m) {
        Some(AppReport::Strength(r)) => Meaning::StrengthReport {
            a: r.a,
            b: r.b,
            limit_a: r.limit_a,
            limit_b: r.limit_b,
        },
        Some(AppReport::Feedback(b)) => Meaning::Feedback {
            button: b.index(),
            channel: b.channel().letter(),
            position: b.position(),
        },
        None => match m.parse::<u16>() {
            Ok(code) if m.len() == 3 => Meaning::Code {
                code,
                reason: code_key(code),
            },
            _ => Meaning::Message { text: quote(m) },
        },
    }
}

/// `pulse-A:[…]` → ("A", number of strings in the list), by form only.
fn pulse_frames(m: &str) -> Option<(&'static str, usize)> {
    let rest = m.strip_prefix("pulse-")?;
    let (ch, list) = rest.split_once(':')?;
    let channel = match ch {
        "A" => "A",
        "B" => "B",
        _ => return None,
    };
    let frames: Vec<&str> = serde_json::from_str(list).ok()?;
    Some((channel, frames.len()))
}

/// Peer text for a meaning: cut short (it is shown, not parsed).
fn quote(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

impl fmt::Display for Meaning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Meaning::IdAssigned { id } => write!(f, "relay assigns id {id}"),
            Meaning::BindRequest { terminal, app } => {
                write!(f, "App {app} asks to pair with terminal {terminal}")
            }
            Meaning::Paired { terminal, app } => {
                write!(f, "paired: terminal {terminal} with App {app}")
            }
            Meaning::BindRefused { code, .. } => {
                write!(f, "bind refused: {code} {}", code_words(*code))
            }
            Meaning::StrengthSet { channel, value } => write!(f, "{channel} set to {value}"),
            Meaning::StrengthUp { channel } => write!(f, "{channel} up by 1"),
            Meaning::StrengthDown { channel } => write!(f, "{channel} down by 1"),
            Meaning::StrengthReport {
                a,
                b,
                limit_a,
                limit_b,
            } => write!(f, "App reports A {a}/{limit_a} B {b}/{limit_b}"),
            Meaning::Pulse {
                channel,
                frames,
                ms,
            } => write!(f, "pulse {channel}: {frames} frames, {ms} ms"),
            Meaning::Clear { channel } => write!(f, "clear {channel}'s waveform queue"),
            Meaning::Feedback {
                button,
                channel,
                position,
            } => write!(
                f,
                "feedback {button} (channel {channel}, button {})",
                position + 1
            ),
            Meaning::Repeat {
                channel,
                seconds,
                frames,
            } => write!(
                f,
                "pulse {channel} every second for {seconds} s ({frames} frames each)"
            ),
            Meaning::Code { code, .. } => write!(f, "code {code}: {}", code_words(*code)),
            Meaning::Heartbeat => f.write_str("heartbeat"),
            Meaning::Break { code } => write!(f, "the partner left ({code})"),
            Meaning::RelayError { message } => write!(f, "relay error: {message}"),
            Meaning::Message { text } => write!(f, "message: {text}"),
            Meaning::NotJson => f.write_str("not a JSON object (403)"),
            Meaning::Invalid { field } => write!(f, "invalid frame: `{field}`"),
            Meaning::HttpRefused { status, path } => {
                write!(f, "HTTP {status} for {path}: {}", http_words(*status))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0b6e1c3a-2f5d-4c1e-9a7b-3d2e1f0a9b8c";
    const A: &str = "5c9d3e2f-1a0b-4c8d-9e7f-6a5b4c3d2e1f";

    fn frame(kind: &str, message: &str) -> String {
        serde_json::json!({"type": kind, "clientId": T, "targetId": A, "message": message})
            .to_string()
    }

    fn says(raw: &str) -> (Meaning, String) {
        let m = describe(raw);
        let text = m.to_string();
        (m, text)
    }

    #[test]
    fn bind_frames() {
        let greeting =
            serde_json::json!({"type":"bind","clientId":T,"targetId":"","message":"targetId"});
        let (m, text) = says(&greeting.to_string());
        assert_eq!(m, Meaning::IdAssigned { id: T.into() });
        assert_eq!(text, format!("relay assigns id {T}"));
        let (m, text) = says(&frame("bind", "DGLAB"));
        assert!(matches!(m, Meaning::BindRequest { .. }));
        assert_eq!(text, format!("App {A} asks to pair with terminal {T}"));
        assert!(matches!(
            describe(&frame("bind", "200")),
            Meaning::Paired { .. }
        ));
        let (m, text) = says(&frame("bind", "404"));
        assert_eq!(
            m,
            Meaning::BindRefused {
                code: 404,
                reason: "not_found"
            }
        );
        assert_eq!(text, "bind refused: 404 ids not owned by the sender");
        assert_eq!(
            says(&frame("bind", "401")).1,
            "bind refused: 401 the terminal is not connected"
        );
    }

    #[test]
    fn strength_commands_and_reports() {
        assert_eq!(says(&frame("msg", "strength-1+2+20")).1, "A set to 20");
        assert_eq!(
            describe(&frame("msg", "strength-2+1+1")),
            Meaning::StrengthUp { channel: "B" }
        );
        assert_eq!(says(&frame("msg", "strength-1+0+1")).1, "A down by 1");
        let (m, text) = says(&frame("msg", "strength-10+0+200+200"));
        assert_eq!(
            m,
            Meaning::StrengthReport {
                a: 10,
                b: 0,
                limit_a: 200,
                limit_b: 200
            }
        );
        assert_eq!(text, "App reports A 10/200 B 0/200");
    }

    #[test]
    fn pulses_clears_feedback() {
        let pulse = r#"pulse-B:["0A0A0A0A00000000","0A0A0A0A64646464","0A0A0A0A64646464","0A0A0A0A00000000"]"#;
        let (m, text) = says(&frame("msg", pulse));
        assert_eq!(
            m,
            Meaning::Pulse {
                channel: "B",
                frames: 4,
                ms: 400
            }
        );
        assert_eq!(text, "pulse B: 4 frames, 400 ms");
        // A frame the typed command refuses (frequency byte 0) still counts as a pulse.
        assert_eq!(
            says(&frame("msg", r#"pulse-A:["0000000000000000"]"#)).1,
            "pulse A: 1 frames, 100 ms"
        );
        assert_eq!(says(&frame("msg", "clear-2")).1, "clear B's waveform queue");
        let (m, text) = says(&frame("msg", "feedback-3"));
        assert_eq!(
            m,
            Meaning::Feedback {
                button: 3,
                channel: "A",
                position: 3
            }
        );
        assert!(text.starts_with("feedback 3"), "{text}");
    }

    #[test]
    fn codes_breaks_heartbeats_errors() {
        let (m, text) = says(&frame("msg", "402"));
        assert_eq!(
            m,
            Meaning::Code {
                code: 402,
                reason: "not_paired"
            }
        );
        assert_eq!(text, "code 402: not paired");
        assert_eq!(says(&frame("error", "500")).1, "code 500: relay error");
        assert_eq!(
            describe(&frame("error", "406-channel is empty")),
            Meaning::RelayError {
                message: "406-channel is empty".into()
            }
        );
        assert_eq!(describe(&frame("heartbeat", "200")), Meaning::Heartbeat);
        assert_eq!(says(&frame("break", "209")).1, "the partner left (209)");
    }

    #[test]
    fn front_end_shapes_read_as_their_commands() {
        let set = serde_json::json!({"type":3,"clientId":T,"targetId":A,"channel":2,"strength":35});
        assert_eq!(says(&set.to_string()).1, "B set to 35");
        let repeat = serde_json::json!({"type":"clientMsg","clientId":T,"targetId":A,"channel":"A",
            "time":5,"message":"A:[\"0A0A0A0A64646464\",\"0A0A0A0A64646464\"]"});
        assert_eq!(
            describe(&repeat.to_string()),
            Meaning::Repeat {
                channel: "A",
                seconds: 5,
                frames: 2
            }
        );
        let missing =
            serde_json::json!({"type":"clientMsg","clientId":T,"targetId":A,"message":"A:[]"});
        assert_eq!(
            describe(&missing.to_string()),
            Meaning::Invalid { field: "channel" }
        );
    }

    #[test]
    fn junk_is_named_not_failed() {
        assert_eq!(describe("hello"), Meaning::NotJson);
        assert_eq!(describe("[1,2]"), Meaning::NotJson);
        assert_eq!(
            describe(r#"{"type":"bind","clientId":1}"#),
            Meaning::Invalid { field: "clientId" }
        );
        assert_eq!(says(r#"{"type":"nope"}"#).1, "invalid frame: `type`");
        let long = "x".repeat(500);
        match describe(&frame("msg", &long)) {
            Meaning::Message { text } => assert_eq!(text.chars().count(), MAX_QUOTE_CHARS + 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn http_refusals_and_the_wire_shape() {
        let m = Meaning::HttpRefused {
            status: 426,
            path: "/abc".into(),
        };
        assert_eq!(
            m.to_string(),
            "HTTP 426 for /abc: a plain page request on the App's WebSocket path"
        );
        let json = serde_json::to_value(Meaning::StrengthSet {
            channel: "A",
            value: 20,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind":"strength_set","params":{"channel":"A","value":20}})
        );
        assert_eq!(
            serde_json::to_value(Meaning::Heartbeat).unwrap(),
            serde_json::json!({"kind":"heartbeat"})
        );
        assert_eq!(code_key(999), "unknown");
    }
}
