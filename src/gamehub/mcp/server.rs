//! The MCP methods, whatever the transport: `initialize` (version negotiation), `ping`,
//! `tools/*`, `resources/*`; notifications are taken silently.

use super::jsonrpc::{self, Incoming, RpcError, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND};
use super::tools::{self, Caller};
use serde_json::{json, Value};

/// The versions we speak, newest first. An unknown request gets the newest (the spec's
/// rule: the client then decides whether it can go on).
pub(crate) const VERSIONS: &[&str] = &["2025-06-18", "2025-03-26", "2024-11-05"];

/// The version to answer a client that asked for `asked`.
pub(crate) fn negotiate(asked: Option<&str>) -> &'static str {
    VERSIONS
        .iter()
        .find(|v| Some(**v) == asked)
        .copied()
        .unwrap_or(VERSIONS[0])
}

const INSTRUCTIONS: &str = "DG-LAB Hub drives DG-LAB Coyote e-stim boxes. Every strength you set is limited by the App's soft limit and the user's caps, and rises gradually. Call status first. `stop` is an emergency stop: after it nothing moves until the user re-arms in DG-LAB Hub.";

/// The answer to one message, `None` for notifications and client responses.
pub(crate) fn handle(c: &mut Caller, msg: Incoming) -> Option<Value> {
    match msg {
        Incoming::Request { id, method, params } => Some(match dispatch(c, &method, &params) {
            Ok(r) => jsonrpc::result(&id, r),
            Err(e) => jsonrpc::error(&id, &e),
        }),
        // `notifications/initialized`, `notifications/cancelled` (our answers are
        // immediate, nothing to cancel)…: taken, never answered.
        Incoming::Notification { method } => {
            log::debug!("MCP notification {method}");
            None
        }
        Incoming::Ignored => None,
        Incoming::Invalid { id, why } => {
            Some(jsonrpc::error(&id, &RpcError::new(INVALID_REQUEST, why)))
        }
    }
}

fn dispatch(c: &mut Caller, method: &str, params: &Value) -> Result<Value, RpcError> {
    match method {
        "initialize" => {
            let asked = params.get("protocolVersion").and_then(Value::as_str);
            let version = negotiate(asked);
            c.session.version = Some(version.to_owned());
            Ok(json!({
                "protocolVersion": version,
                "capabilities": {
                    "tools": {"listChanged": false},
                    "resources": {"subscribe": false, "listChanged": false}
                },
                "serverInfo": {"name": "dglab-hub", "title": "DG-LAB Hub", "version": env!("CARGO_PKG_VERSION")},
                "instructions": INSTRUCTIONS,
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(tools::list()),
        "tools/call" => tools::call(c, params),
        "resources/list" => Ok(tools::resources_list()),
        "resources/templates/list" => Ok(json!({"resourceTemplates": []})),
        "resources/read" => {
            let uri = params
                .get("uri")
                .and_then(Value::as_str)
                .ok_or_else(|| RpcError::new(INVALID_PARAMS, "resources/read needs a uri"))?;
            tools::resource(c, uri)
        }
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method not found: {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_versions_are_echoed_and_others_get_the_newest() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("2025-11-25")), "2025-06-18");
        assert_eq!(negotiate(None), "2025-06-18");
    }
}
