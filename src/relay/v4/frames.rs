//! The relay-level frames (spec §4.1), written as text with `type` first as on the wire.
//! Payloads (`data`) are raw JSON text, copied in as they came.

use super::event::V4Id;
use std::time::{SystemTime, UNIX_EPOCH};

/// `{"type":"hello","clientId":"<own id>"}`: the first frame on every connection.
pub(crate) fn hello(id: V4Id) -> String {
    format!(r#"{{"type":"hello","clientId":"{id}"}}"#)
}

/// To an App: its controller. Also `client_attached`, `client_disconnected` and
/// `controller_disconnected`, which have the same shape.
pub(crate) fn notice(kind: &str, id: V4Id) -> String {
    format!(r#"{{"type":"{kind}","clientId":"{id}"}}"#)
}

pub(crate) const CONTROLLER_ATTACHED: &str = "controller_attached";
pub(crate) const CLIENT_ATTACHED: &str = "client_attached";
pub(crate) const CLIENT_DISCONNECTED: &str = "client_disconnected";
pub(crate) const CONTROLLER_DISCONNECTED: &str = "controller_disconnected";

pub(crate) const HEARTBEAT: &str = r#"{"type":"heartbeat"}"#;
pub(crate) const IDLE_TIMEOUT: &str = r#"{"type":"idle_timeout"}"#;

/// Error codes (§4.3), and ours for a payload the guard refused.
pub(crate) const CONTROLLER_NOT_FOUND: &str = "controller_not_found";
pub(crate) const BAD_REQUEST: &str = "bad_request";
pub(crate) const CLIENT_NOT_FOUND: &str = "client_not_found";
pub(crate) const REFUSED: &str = "refused";

/// The `message` of `bad_request` for a controller `message` without a string `clientId`.
pub(crate) const CLIENT_ID_REQUIRED: &str = "message.clientId is required";

/// `{"type":"error","code":…}` with an optional `message` (our text) and `clientId`
/// (raw JSON, as the sender wrote it).
pub(crate) fn error(code: &str, message: Option<&str>, client_id_json: Option<&str>) -> String {
    let mut s = format!(r#"{{"type":"error","code":"{code}""#);
    if let Some(m) = message {
        s.push_str(r#","message":"#);
        s.push_str(&serde_json::Value::from(m).to_string());
    }
    if let Some(c) = client_id_json {
        s.push_str(r#","clientId":"#);
        s.push_str(c);
    }
    s.push('}');
    s
}

/// `{"type":"pong","ts":<unix ms>}`.
pub(crate) fn pong() -> String {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!(r#"{{"type":"pong","ts":{ts}}}"#)
}

/// A payload for an App: the controller's id removed (an App has only one controller).
pub(crate) fn to_app(data: &str) -> String {
    format!(r#"{{"type":"message","data":{data}}}"#)
}

/// A payload for a controller, with the id of the App it came from.
pub(crate) fn to_controller(app: V4Id, data: &str) -> String {
    format!(r#"{{"type":"message","clientId":"{app}","data":{data}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn v(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn frames_are_the_spec_shapes() {
        let id = V4Id(0x3f9a_1c07);
        assert_eq!(hello(id), r#"{"type":"hello","clientId":"3f9a1c07"}"#);
        assert_eq!(
            v(&notice(CONTROLLER_DISCONNECTED, id)),
            json!({"type":"controller_disconnected","clientId":"3f9a1c07"})
        );
        assert_eq!(
            v(&error(BAD_REQUEST, Some(CLIENT_ID_REQUIRED), None)),
            json!({"type":"error","code":"bad_request","message":"message.clientId is required"})
        );
        assert_eq!(
            v(&error(CLIENT_NOT_FOUND, None, Some(r#""ff\"ff""#))),
            json!({"type":"error","code":"client_not_found","clientId":"ff\"ff"})
        );
        assert!(v(&pong())["ts"].as_u64().unwrap() > 1_700_000_000_000);
        assert_eq!(
            v(&to_controller(V4Id(0xb71e_02d4), r#"{"t":"ev"}"#)),
            json!({"type":"message","clientId":"b71e02d4","data":{"t":"ev"}})
        );
        assert_eq!(
            to_app(r#"{"b":1,"a":2}"#),
            r#"{"type":"message","data":{"b":1,"a":2}}"#
        );
    }
}
