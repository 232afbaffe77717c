//! JSON-RPC 2.0 as MCP uses it: one message or (2025-03-26) a batch per body; requests
//! get a response, notifications and client responses get none.
//!
//! Parsing never fails the transport: a body that is no JSON answers -32700, a message
//! that is no request -32600, each with `id: null` as the spec asks.

use serde_json::{json, Value};

/// The standard codes.
pub(crate) const PARSE_ERROR: i64 = -32700;
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
pub(crate) const INVALID_PARAMS: i64 = -32602;

/// Game-Hub's own MCP codes (docs/gamehub-api.md §5.2), kept so its MCP users see the same.
pub(crate) const GAME_NOT_FOUND: i64 = -32001;
pub(crate) const NOT_CONNECTED: i64 = -32002;
pub(crate) const INVALID_PULSE: i64 = -32004;
/// "Operation failed / session not found": also ours for a write refused by the stop.
pub(crate) const OPERATION_FAILED: i64 = -32005;

/// A failure answered as a JSON-RPC error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }
}

/// One incoming message, sorted.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// Expects an answer with this id.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// No answer.
    Notification { method: String },
    /// A client's answer to a server request (we send none) or something unanswerable.
    Ignored,
    /// Not a JSON-RPC message: answered with -32600 and `id` if one could be read.
    Invalid { id: Value, why: String },
}

/// What a body held.
#[derive(Debug)]
pub(crate) enum Body {
    One(Incoming),
    Batch(Vec<Incoming>),
}

/// Reads a body. `Err` is the -32700 answer to send.
pub(crate) fn parse(bytes: &[u8]) -> Result<Body, Value> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        error(
            &Value::Null,
            &RpcError::new(PARSE_ERROR, format!("parse error: {e}")),
        )
    })?;
    Ok(match v {
        Value::Array(items) if !items.is_empty() => {
            Body::Batch(items.into_iter().map(sort).collect())
        }
        Value::Array(_) => Body::One(Incoming::Invalid {
            id: Value::Null,
            why: "an empty batch".into(),
        }),
        other => Body::One(sort(other)),
    })
}

fn sort(v: Value) -> Incoming {
    let Value::Object(mut m) = v else {
        return Incoming::Invalid {
            id: Value::Null,
            why: "a message must be a JSON object".into(),
        };
    };
    let id = m.remove("id");
    let id_ok = matches!(id, None | Some(Value::String(_) | Value::Number(_)));
    if m.get("jsonrpc") != Some(&json!("2.0")) || !id_ok {
        return Incoming::Invalid {
            id: id.filter(|_| id_ok).unwrap_or(Value::Null),
            why: "not a JSON-RPC 2.0 message (jsonrpc must be \"2.0\", id a string or number)"
                .into(),
        };
    }
    match (m.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Incoming::Request {
            id,
            method,
            params: m.remove("params").unwrap_or(Value::Null),
        },
        (Some(Value::String(method)), None) => Incoming::Notification { method },
        (None, Some(_)) if m.contains_key("result") || m.contains_key("error") => Incoming::Ignored,
        (_, id) => Incoming::Invalid {
            id: id.unwrap_or(Value::Null),
            why: "method must be a string".into(),
        },
    }
}

pub(crate) fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

pub(crate) fn error(id: &Value, e: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sorted_and_garbage_is_named() {
        assert!(parse(b"{nope").is_err_and(|e| e["error"]["code"] == PARSE_ERROR));
        let one = |s: &str| match parse(s.as_bytes()).unwrap() {
            Body::One(m) => m,
            Body::Batch(_) => panic!("batch"),
        };
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Incoming::Request { method, .. } if method == "ping"
        ));
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Incoming::Notification { .. }
        ));
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":3,"result":{}}"#),
            Incoming::Ignored
        ));
        assert!(matches!(
            one(r#"{"id":1,"method":"ping"}"#),
            Incoming::Invalid { .. }
        ));
        assert!(matches!(
            one(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#),
            Incoming::Invalid {
                id: Value::Null,
                ..
            }
        ));
        assert!(matches!(one("[]"), Incoming::Invalid { .. }));
        assert!(matches!(one("7"), Incoming::Invalid { .. }));
        assert!(matches!(
            parse(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"x"}]"#),
            Ok(Body::Batch(v)) if v.len() == 2
        ));
    }
}
