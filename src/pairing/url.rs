//! The base of the pairing URL: `ws://<LAN address>:<port>` built from parts, or a public
//! URL the user types (a reverse proxy with TLS, a port forward, a tunnel).
//!
//! The App appends `/<terminal id>` to the base and splits the QR text on `#`, so a base
//! must be a plain `ws://`/`wss://` URL with a host, no query and no fragment.

use std::net::{IpAddr, SocketAddr};

/// `ws://192.168.1.5:9999`, or `ws://[fd00::5]:9999` for IPv6.
pub fn ws_base(host: IpAddr, port: u16) -> String {
    // SocketAddr's Display brackets IPv6 and, built this way, never adds a scope id.
    format!("ws://{}", SocketAddr::new(host, port))
}

/// Why a user-supplied public URL cannot be the base of a pairing URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    /// It does not start with `ws://` or `wss://`.
    #[error("the public URL must start with ws:// or wss:// (got {0:?})")]
    Scheme(String),
    /// Nothing between `ws://` and the path.
    #[error("the public URL has no host")]
    MissingHost,
    /// The port is not a number in 1..=65535.
    #[error("the public URL has an invalid port {0:?}")]
    Port(String),
    /// A `user:password@` part, which the App does not support.
    #[error("the public URL must not contain user info (user@host)")]
    UserInfo,
    /// `0.0.0.0` or `[::]`: a listening address, not one anyone can connect to.
    #[error("{0} is not an address a phone can connect to")]
    Unspecified(String),
    /// A `?query`: the App would append the terminal id to it.
    #[error("the public URL must not have a query (?…): the terminal id is appended to the path")]
    Query,
    /// A `#fragment`: the App splits the QR text on `#`.
    #[error("the public URL must not contain '#': the App splits the QR text on it")]
    Fragment,
    /// Spaces or control characters.
    #[error("the public URL must not contain spaces or control characters")]
    Whitespace,
}

/// Checks a public URL and returns it normalised (scheme lower-cased, trailing `/`
/// dropped), ready for [`super::pairing_url`]. A path is allowed (`wss://example.org/dglab`
/// behind a reverse proxy). Loopback is accepted — it is what tests and same-machine
/// setups use — so callers that expect a phone should warn about it themselves.
///
/// # Errors
/// [`PublicUrlError`] says which rule the URL breaks.
pub fn validate_public_url(input: &str) -> Result<String, PublicUrlError> {
    let input = input.trim();
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(PublicUrlError::Whitespace);
    }
    if input.contains('#') {
        return Err(PublicUrlError::Fragment);
    }
    if input.contains('?') {
        return Err(PublicUrlError::Query);
    }
    let (scheme, rest) = input
        .split_once("://")
        .ok_or_else(|| PublicUrlError::Scheme(input.to_owned()))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "ws" && scheme != "wss" {
        return Err(PublicUrlError::Scheme(format!("{scheme}://")));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(PublicUrlError::UserInfo);
    }
    let (host, port) = split_host_port(authority)?;
    if host.is_empty() {
        return Err(PublicUrlError::MissingHost);
    }
    if let Some(port) = port {
        if !port.bytes().all(|b| b.is_ascii_digit()) || !matches!(port.parse::<u16>(), Ok(1..)) {
            return Err(PublicUrlError::Port(port.to_owned()));
        }
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified()) {
        return Err(PublicUrlError::Unspecified(host.to_owned()));
    }
    Ok(format!(
        "{scheme}://{authority}{}",
        path.trim_end_matches('/')
    ))
}

/// `host:port`, `host`, `[v6]:port` or `[v6]` → (host, port).
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), PublicUrlError> {
    if authority.starts_with('[') {
        let end = authority.find(']').ok_or(PublicUrlError::MissingHost)?;
        let (host, after) = authority.split_at(end + 1);
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(PublicUrlError::Port(after.to_owned())),
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn ws_base_brackets_ipv6() {
        assert_eq!(
            ws_base(Ipv4Addr::new(192, 168, 1, 5).into(), 9999),
            "ws://192.168.1.5:9999"
        );
        let v6: Ipv6Addr = "fd00::5".parse().unwrap();
        assert_eq!(ws_base(v6.into(), 9999), "ws://[fd00::5]:9999");
    }

    #[test]
    fn accepts_and_normalises() {
        for (input, want) in [
            ("ws://192.168.1.5:9999", "ws://192.168.1.5:9999"),
            ("ws://192.168.1.5:9999/", "ws://192.168.1.5:9999"),
            ("WSS://relay.example.org", "wss://relay.example.org"),
            (
                "wss://relay.example.org/dglab//",
                "wss://relay.example.org/dglab",
            ),
            ("  ws://[fd00::5]:8080/ ", "ws://[fd00::5]:8080"),
            ("ws://127.0.0.1:9999", "ws://127.0.0.1:9999"),
        ] {
            assert_eq!(validate_public_url(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_with_the_reason() {
        use PublicUrlError as E;
        for (input, want) in [
            ("http://example.org", E::Scheme("http://".into())),
            ("example.org:9999", E::Scheme("example.org:9999".into())),
            ("ws://", E::MissingHost),
            ("ws:///path", E::MissingHost),
            ("ws://:9999", E::MissingHost),
            ("ws://example.org:0", E::Port("0".into())),
            ("ws://example.org:99999", E::Port("99999".into())),
            ("ws://example.org:+80", E::Port("+80".into())),
            ("ws://example.org:", E::Port(String::new())),
            ("ws://[fd00::5]x", E::Port("x".into())),
            ("ws://user:pw@example.org", E::UserInfo),
            ("ws://0.0.0.0:9999", E::Unspecified("0.0.0.0".into())),
            ("ws://[::]:9999", E::Unspecified("[::]".into())),
            ("ws://example.org/a?b=c", E::Query),
            ("ws://example.org/#x", E::Fragment),
            ("ws://exa mple.org", E::Whitespace),
        ] {
            assert_eq!(validate_public_url(input), Err(want), "{input}");
        }
    }

    #[test]
    fn errors_read_well() {
        let e = validate_public_url("http://x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the public URL must start with ws:// or wss:// (got \"http://\")"
        );
    }
}
