//! Who may talk to the game API: the checks every request passes before routing.
//!
//! Game-Hub has none: no authentication, no CORS, LAN-wide. A web page the user happens to
//! have open could then drive the box with a plain form POST (a "simple request", which
//! CORS never stops), or through DNS rebinding. So, beyond the original:
//! - **Host**: must be a loopback name (`localhost`, `127.0.0.1`, `[::1]`), the address we
//!   listen on, an IP literal when we listen on every interface (LAN clients type the
//!   IP), or a name the user added. A rebinding page's Host is its own domain: refused.
//! - **Origin**: when present (browsers send it on every cross-origin and every POST
//!   request), it must be one of our own pages, `http://<allowed host>:<our port>`.
//!   Native clients (mods, scripts, bots) send none and are unaffected.
//! - **Token**: a request from another machine must carry the API token
//!   (`Authorization: Bearer <token>`, or `?token=` for clients that cannot set headers).
//!   Loopback callers need none, so existing mods work unchanged. Listening beyond
//!   loopback without a token is refused at start (see [`super::serve_http`]).
//!
//! Also, paths are normalised here, before routing: repeated slashes collapse and a
//! trailing slash goes, as Game-Hub's router and its SDKs' URL joining expect.

use super::envelope;
use super::event::GameHubEvent;
use super::http::Api;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};

/// The door's settings, fixed when the server starts.
#[derive(Debug)]
pub(crate) struct Door {
    /// The address we listen on.
    pub(crate) local: SocketAddr,
    /// The API token; required from non-loopback callers. Replaceable while serving
    /// (the window's "new token"), so it sits behind a lock read once per request.
    pub(crate) token: std::sync::RwLock<Option<String>>,
    /// Host names accepted besides loopback and our address (lowercase, no port).
    pub(crate) extra_hosts: Vec<String>,
}

impl Door {
    /// Whether `host` (a Host header or an Origin's host, port included or not) names us.
    pub(crate) fn host_ok(&self, host: &str) -> bool {
        let name = strip_port(host).to_ascii_lowercase();
        if name == "localhost" || self.extra_hosts.contains(&name) {
            return true;
        }
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.local.ip() || self.local.ip().is_unspecified(),
            Err(_) => false,
        }
    }

    /// Whether `origin` is one of our own pages: `http://<host we accept>:<our port>`.
    pub(crate) fn origin_ok(&self, origin: &str) -> bool {
        let Some(authority) = origin.strip_prefix("http://") else {
            return false;
        };
        if authority.contains('/') {
            return false;
        }
        port_of(authority) == Some(self.local.port()) && self.host_ok(authority)
    }

    /// Whether a caller at `peer` may use the API: anyone on this machine, others with
    /// the token.
    pub(crate) fn admits(&self, peer: IpAddr, headers: &HeaderMap, query: Option<&str>) -> bool {
        peer.is_loopback() || self.has_token(headers, query)
    }

    /// Whether the request carries our token (header or query).
    pub(crate) fn has_token(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        let guard = self.token.read().unwrap_or_else(|e| e.into_inner());
        let Some(token) = guard.as_ref() else {
            return false;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let in_query = query.and_then(|q| {
            q.split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| *k == "token")
                .map(|(_, v)| super::body::decode(v))
        });
        bearer.is_some_and(|b| same(b, token)) || in_query.is_some_and(|q| same(&q, token))
    }
}

/// Equal without an early exit, so the time taken says nothing about the token.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// `host:port` → `host`, `[::1]:port` → `[::1]`, `host` → `host`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The port of `host:port`, 80 when none is given.
fn port_of(authority: &str) -> Option<u16> {
    let after = match authority.rsplit_once(']') {
        Some((_, rest)) => rest,
        None => authority,
    };
    match after.rsplit_once(':') {
        Some((_, p)) => p.parse().ok(),
        None => Some(80),
    }
}

/// `//api//game/` → `/api/game`.
pub(crate) fn normalise(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The middleware: normalise the path, then Host, Origin and token, in that order.
pub(crate) async fn check(State(api): State<Api>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
    let request = format!("{} {}", req.method(), req.uri().path());
    let refuse = |status: StatusCode, code: &str, why: String| {
        api.games.shared.emit(GameHubEvent::ApiRefused {
            peer,
            request: request.clone(),
            why: why.clone(),
        });
        envelope::refusal(status, code, &why)
    };
    let headers = req.headers();
    if let Some(host) = headers.get(header::HOST) {
        let ok = host.to_str().is_ok_and(|h| api.door.host_ok(h));
        if !ok {
            return refuse(
                StatusCode::FORBIDDEN,
                "ERR::FORBIDDEN_HOST",
                format!("Host {host:?} is not this machine's loopback name or address"),
            );
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| api.door.origin_ok(o));
        if !ok {
            return refuse(
                StatusCode::FORBIDDEN,
                "ERR::FORBIDDEN_ORIGIN",
                format!("requests from web pages of {origin:?} are not accepted"),
            );
        }
    }
    // Our static pages hold only code; what they do goes through the API and its token.
    let page = super::web::is_page(req.method(), &normalise(req.uri().path()));
    if !page && !api.door.admits(peer.ip(), headers, req.uri().query()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "ERR::UNAUTHORIZED",
            "a request from another machine needs the API token (Authorization: Bearer <token>)"
                .to_owned(),
        );
    }
    let path = req.uri().path();
    let clean = normalise(path);
    if clean != path {
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{clean}?{q}"),
            None => clean,
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn door(ip: [u8; 4]) -> Door {
        Door {
            local: SocketAddr::from((ip, 8920)),
            token: Some("s3cret".to_owned()).into(),
            extra_hosts: vec!["my-pc.lan".into()],
        }
    }

    #[test]
    fn hosts_are_loopback_names_our_address_or_added_names() {
        let d = door([127, 0, 0, 1]);
        for ok in [
            "localhost",
            "LOCALHOST:8920",
            "127.0.0.1:8920",
            "[::1]:8920",
            "my-pc.lan",
        ] {
            assert!(d.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8920",
            "192.168.1.20:8920",
            "localhost.evil.example",
        ] {
            assert!(!d.host_ok(bad), "{bad}");
        }
        let lan = door([0, 0, 0, 0]);
        assert!(lan.host_ok("192.168.1.20:8920"));
        assert!(!lan.host_ok("rebind.example:8920"));
    }

    #[test]
    fn origins_must_be_our_own_pages() {
        let d = door([127, 0, 0, 1]);
        assert!(d.origin_ok("http://127.0.0.1:8920"));
        assert!(d.origin_ok("http://localhost:8920"));
        assert!(!d.origin_ok("http://localhost:3000"));
        assert!(!d.origin_ok("https://evil.example"));
        assert!(!d.origin_ok("null"));
        assert!(!d.origin_ok("http://evil.example:8920"));
    }

    #[test]
    fn paths_lose_repeated_and_trailing_slashes() {
        assert_eq!(normalise("//api/game/"), "/api/game");
        assert_eq!(
            normalise("/api//v2/game/all/strength"),
            "/api/v2/game/all/strength"
        );
        assert_eq!(normalise("/"), "/");
    }

    #[test]
    fn other_machines_need_the_token_and_this_one_does_not() {
        let d = door([0, 0, 0, 0]);
        let lan: IpAddr = "192.168.1.30".parse().unwrap();
        let mut h = HeaderMap::new();
        assert!(d.admits("127.0.0.1".parse().unwrap(), &h, None));
        assert!(!d.admits(lan, &h, None));
        assert!(!d.admits(lan, &h, Some("token=wrong")));
        assert!(d.admits(lan, &h, Some("a=1&token=s3cret")));
        h.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert!(!d.admits(lan, &h, None));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(d.admits(lan, &h, None));
        *d.token.write().unwrap() = Some("n3w-token".into());
        assert!(!d.admits(lan, &h, None), "the old token still works");
        assert!(d.admits(lan, &h, Some("token=n3w-token")));
        let open = Door {
            token: None.into(),
            ..d
        };
        assert!(
            !open.admits(lan, &h, None),
            "no token configured must not mean open"
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abcd"));
        assert!(!same("", "a"));
    }
}
