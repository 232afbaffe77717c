//! Game-Hub's response envelope: HTTP 200 and `{status, code, message, …}` for every
//! handled request (`status` 1 and `code` `OK` on success, 0 and an `ERR::…` code on
//! failure), and the framework's plain-text answers for the rest (404, 405, 400).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// The error codes the API answers with (upstream's, plus our own for the stop and the door).
pub(crate) const GAME_NOT_FOUND: &str = "ERR::GAME_NOT_FOUND";
pub(crate) const BROADCAST_NOT_ALLOWED: &str = "ERR::BROADCAST_NOT_ALLOWED";
pub(crate) const INVALID_REQUEST: &str = "ERR::INVALID_REQUEST";
/// Ours: the emergency stop is latched (or the lease lapsed); nothing was changed.
pub(crate) const EMERGENCY_STOP: &str = "ERR::EMERGENCY_STOP";

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// `{status: 1, code: "OK", …fields}`.
pub(crate) fn ok(fields: Value) -> Response {
    let mut m = Map::new();
    m.insert("status".into(), json!(1));
    m.insert("code".into(), json!("OK"));
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    json_response(StatusCode::OK, &Value::Object(m))
}

/// `{status: 0, code, message}` with HTTP 200, as upstream answers handled failures.
pub(crate) fn err(code: &str, message: &str) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"status": 0, "code": code, "message": message}),
    )
}

/// The door's refusals: the envelope, but with a real HTTP error status, so clients that
/// check the status (`raise_for_status`) fail loudly rather than believing they drove it.
pub(crate) fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"status": 0, "code": code, "message": message}),
    )
}

/// A body that is not JSON/form at all (upstream: 400 `Bad Request`, plain text).
pub(crate) fn bad_request() -> Response {
    (StatusCode::BAD_REQUEST, "Bad Request").into_response()
}

pub(crate) async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

pub(crate) async fn method_not_allowed() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response()
}
