//! The DG-LAB SOCKET v2 wire protocol.
//!
//! Every frame is a JSON text object with four string fields:
//! `{"type": T, "clientId": C, "targetId": A, "message": M}`. `clientId` is always the
//! **terminal's** id and `targetId` the **App's** id, whichever side sends the frame. The
//! five types are `bind` (id hand-out and pairing), `msg` (commands, reports and most error
//! codes), `heartbeat`, `break` (the peer left) and `error` (relay failure).
//!
//! The App discards any frame longer than [`MAX_FRAME_CHARS`] characters and ignores
//! malformed commands silently, so nothing here ever produces one: [`codec::encode`] refuses
//! an over-long frame and the typed commands of [`command`] only format valid strings.
//!
//! - [`codec`]: envelope ↔ JSON text, including the vendor web page's "front-end" shapes.
//! - [`command`]: the typed payloads carried in `message`.
//! - [`frame`]: one validated 100 ms pulse frame and the Hz ↔ byte mapping.
//! - [`describe`]: what a frame means, as a kind and parameters (the protocol inspector).

pub mod codec;
pub mod command;
pub mod describe;
pub mod frame;

pub use frame::{Frame, FrameError};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The App drops any frame longer than this many characters (UTF-16 code units, as the App's
/// JVM strings and the vendor's JavaScript count them).
pub const MAX_FRAME_CHARS: usize = 1950;

/// `message` of the relay's first frame to a new socket: "store `clientId` as your id".
pub const TARGET_ID_MESSAGE: &str = "targetId";

/// `message` the App puts in its bind request.
pub const BIND_MESSAGE: &str = "DGLAB";

/// The five frame types of the envelope, spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// Id hand-out and pairing results.
    Bind,
    /// Commands, reports and most error codes.
    Msg,
    /// Periodic keep-alive from the relay; `message` is "200".
    Heartbeat,
    /// The peer left; `message` is "209".
    Break,
    /// Relay-side failure, e.g. "500".
    Error,
}

impl MessageType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Bind => "bind",
            MessageType::Msg => "msg",
            MessageType::Heartbeat => "heartbeat",
            MessageType::Break => "break",
            MessageType::Error => "error",
        }
    }

    /// Parses the wire spelling; `None` for anything else.
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "bind" => MessageType::Bind,
            "msg" => MessageType::Msg,
            "heartbeat" => MessageType::Heartbeat,
            "break" => MessageType::Break,
            "error" => MessageType::Error,
            _ => return None,
        })
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol's status and error codes (docs/protocol.md, "Codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Code {
    /// Success; also the heartbeat's message.
    Success = 200,
    /// The peer disconnected (sent with `break`).
    PeerDisconnected = 209,
    /// App-side: the QR code held no valid terminal id.
    InvalidQrClientId = 210,
    /// App-side: connected but the relay never handed out an id.
    RelayNoId = 211,
    /// Bind: an id is already paired.
    AlreadyPaired = 400,
    /// Bind: the terminal id is not connected.
    TargetNotConnected = 401,
    /// Sender and recipient are not paired.
    NotPaired = 402,
    /// The frame is not a JSON object with four string fields.
    NotJson = 403,
    /// Recipient not found, or the ids are not owned by the sender.
    NotFound = 404,
    /// The frame would be longer than 1950 characters; not delivered.
    TooLong = 405,
    /// Ours: refused by the hub's safety policy — the emergency stop is latched, or a
    /// raise would pass the user's cap or rise rate; not delivered.
    Refused = 423,
    /// Relay internal error.
    Internal = 500,
}

impl Code {
    /// The number as it appears in `message`.
    pub fn as_u16(self) -> u16 {
        self as u16
    }

    /// The code as the `message` string, e.g. `"402"`.
    pub fn as_message(self) -> &'static str {
        match self {
            Code::Success => "200",
            Code::PeerDisconnected => "209",
            Code::InvalidQrClientId => "210",
            Code::RelayNoId => "211",
            Code::AlreadyPaired => "400",
            Code::TargetNotConnected => "401",
            Code::NotPaired => "402",
            Code::NotJson => "403",
            Code::NotFound => "404",
            Code::TooLong => "405",
            Code::Refused => "423",
            Code::Internal => "500",
        }
    }

    /// Parses a `message` holding a known code.
    pub fn from_message(s: &str) -> Option<Self> {
        Some(match s {
            "200" => Code::Success,
            "209" => Code::PeerDisconnected,
            "210" => Code::InvalidQrClientId,
            "211" => Code::RelayNoId,
            "400" => Code::AlreadyPaired,
            "401" => Code::TargetNotConnected,
            "402" => Code::NotPaired,
            "403" => Code::NotJson,
            "404" => Code::NotFound,
            "405" => Code::TooLong,
            "423" => Code::Refused,
            "500" => Code::Internal,
            _ => return None,
        })
    }

    /// The frame type the relay uses when it replies with this code.
    pub fn reply_type(self) -> MessageType {
        match self {
            Code::Success | Code::AlreadyPaired | Code::TargetNotConnected | Code::NotPaired => {
                MessageType::Bind
            }
            Code::PeerDisconnected => MessageType::Break,
            Code::Internal => MessageType::Error,
            _ => MessageType::Msg,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_message())
    }
}

/// One protocol frame: the four fields every frame carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The frame type.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The terminal's id (or, in the first frame, the receiver's own new id).
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// The App's id; empty only in the relay's first frame and where no peer is known.
    #[serde(rename = "targetId")]
    pub target_id: String,
    /// The command, report or code.
    pub message: String,
}

impl Envelope {
    /// Builds an envelope from its four parts.
    pub fn new(
        kind: MessageType,
        client_id: impl Into<String>,
        target_id: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Envelope {
            kind,
            client_id: client_id.into(),
            target_id: target_id.into(),
            message: message.into(),
        }
    }
}

/// Length of `s` as the App counts it (UTF-16 code units); ASCII needs no walk.
pub fn wire_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}
