//! Request bodies as Game-Hub's clients send them, turned into one JSON object.
//!
//! Game-Hub parses JSON objects and `qs`-style forms with `allowDots`, so clients send
//! `{"strength":{"add":1}}`, `strength.add=1` or `strength[add]=1` and mean the same; a
//! body with no usable content type is read as `{}` upstream. We sniff instead: a body
//! that starts with `{` is JSON, anything else a form (a strict superset, and the Cheat
//! Engine tables' content type is unknown). Form values stay strings; [`int`] and
//! [`boolean`] accept them the way upstream's schema coercion does.

use serde_json::{Map, Value};

/// Deepest nesting a form key may build (qs's default).
const MAX_DEPTH: usize = 5;

/// Why a body could not be read; answered with HTTP 400 `Bad Request`, as upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadBody;

/// The body as a JSON object. `content_type` is the header, if any.
pub(crate) fn parse(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, BadBody> {
    let kind = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let text = std::str::from_utf8(body).map_err(|_| BadBody)?;
    let trimmed = text.trim_start();
    let json = match kind.as_str() {
        "application/json" => true,
        "application/x-www-form-urlencoded" => false,
        // No or another content type: sniff.
        _ => trimmed.starts_with('{'),
    };
    if json {
        if trimmed.is_empty() {
            return Ok(Map::new());
        }
        // Strict JSON, and an object only (a top-level array or scalar is a 400 upstream).
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(BadBody),
        }
    } else {
        Ok(form(text))
    }
}

/// A `qs` form with dots and brackets: `a.b=1`, `a[b]=1`, `a[]=x&a[]=y`, `a=x&a=y`.
pub(crate) fn form(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        let path = key_path(&k);
        if path.is_empty() {
            continue;
        }
        insert(&mut out, &path, Value::String(v));
    }
    out
}

/// `a.b[c][]` → `["a", "b", "c", ""]` (an empty segment means "append").
fn key_path(key: &str) -> Vec<String> {
    let mut segs = vec![];
    let mut cur = String::new();
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => segs.push(std::mem::take(&mut cur)),
            '[' => {
                if !cur.is_empty() || segs.is_empty() {
                    segs.push(std::mem::take(&mut cur));
                }
                let mut inner = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    inner.push(d);
                }
                segs.push(inner);
                // `a[b].c`: the dot after a bracket starts the next segment.
                if chars.peek() == Some(&'.') {
                    chars.next();
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        segs.push(cur);
    }
    if segs.first().is_some_and(String::is_empty) {
        return vec![];
    }
    // Deeper than qs goes: the rest stays one literal key.
    if segs.len() > MAX_DEPTH + 1 {
        let rest = segs.split_off(MAX_DEPTH + 1).join(".");
        segs[MAX_DEPTH].push('.');
        segs[MAX_DEPTH].push_str(&rest);
    }
    segs
}

fn insert(obj: &mut Map<String, Value>, path: &[String], v: Value) {
    let (head, rest) = (&path[0], &path[1..]);
    if rest.is_empty() {
        match obj.get_mut(head) {
            // A repeated key collects its values, as qs does.
            Some(Value::Array(a)) => a.push(v),
            Some(old) => {
                let first = old.take();
                *old = Value::Array(vec![first, v]);
            }
            None => {
                obj.insert(head.clone(), v);
            }
        }
        return;
    }
    if rest.len() == 1 && rest[0].is_empty() {
        // `a[]=x`: always an array.
        match obj.get_mut(head) {
            Some(Value::Array(a)) => a.push(v),
            Some(old) => {
                let first = old.take();
                *old = Value::Array(vec![first, v]);
            }
            None => {
                obj.insert(head.clone(), Value::Array(vec![v]));
            }
        }
        return;
    }
    let slot = obj
        .entry(head.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        // `a=1&a.b=2`: the nested form wins, like a later key overriding an earlier one.
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(inner) = slot {
        insert(inner, rest, v);
    }
}

/// Percent-decoding with `+` as a space; invalid escapes stay as they are.
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// An integer as upstream's schema accepts it: a JSON number (fractions rounded to the
/// nearest integer) or a string of digits with an optional `-`. `None` for anything else.
pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.round() as i64)
        }),
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        }
        _ => None,
    }
}

/// A boolean: `true`/`false` (JSON or any case in a string), `1`/`0` (number or string).
pub(crate) fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form_json(s: &str) -> Value {
        Value::Object(form(s))
    }

    #[test]
    fn dots_and_brackets_mean_the_same() {
        assert_eq!(form_json("strength.add=3"), json!({"strength":{"add":"3"}}));
        assert_eq!(
            form_json("strength%5Badd%5D=3"),
            json!({"strength":{"add":"3"}})
        );
        assert_eq!(
            form_json("strength[add]=3&randomStrength.set=10"),
            json!({"strength":{"add":"3"},"randomStrength":{"set":"10"}})
        );
    }

    #[test]
    fn repeated_and_bracketed_keys_give_arrays() {
        assert_eq!(
            form_json("pulseId[]=a&pulseId[]=b"),
            json!({"pulseId":["a","b"]})
        );
        assert_eq!(
            form_json("pulseId=a&pulseId=b"),
            json!({"pulseId":["a","b"]})
        );
        assert_eq!(form_json("pulseId[]=a"), json!({"pulseId":["a"]}));
    }

    #[test]
    fn decoding_handles_plus_and_escapes() {
        assert_eq!(decode("a+b%20c%E5%91%BC"), "a b c\u{547c}");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }

    #[test]
    fn bodies_are_sniffed_without_a_content_type() {
        assert_eq!(
            Value::Object(parse(None, b"{\"a\":1}").unwrap()),
            json!({"a":1})
        );
        assert_eq!(
            Value::Object(parse(Some("text/plain"), b"a=1").unwrap()),
            json!({"a":"1"})
        );
        assert_eq!(parse(Some("application/json"), b"[1]"), Err(BadBody));
        assert_eq!(parse(Some("application/json"), b"{bad"), Err(BadBody));
        assert_eq!(
            Value::Object(parse(Some("application/json"), b"").unwrap()),
            json!({})
        );
    }

    #[test]
    fn numbers_and_booleans_coerce_like_upstream() {
        assert_eq!(int(&json!("-12")), Some(-12));
        assert_eq!(int(&json!(2.6)), Some(3));
        assert_eq!(int(&json!("1.5")), None);
        assert_eq!(int(&json!("abc")), None);
        assert_eq!(boolean(&json!("TRUE")), Some(true));
        assert_eq!(boolean(&json!("0")), Some(false));
        assert_eq!(boolean(&json!(1)), Some(true));
        assert_eq!(boolean(&json!("yes")), None);
    }
}
