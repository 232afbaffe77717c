//! The V4 pairing link for the DG-LAB App 4.x (spec docs/v4-protocol.md §3):
//! `https://dungeon-lab.cn/s/?v=1&action=socket&url=<encodeURIComponent(ws://host:port/?tid=ID)>`.
//!
//! The opposite of the SOCKET v2 link ([`super::pairing_url`]), which must stay unencoded:
//! here the whole App socket URL is escaped once, as JavaScript's `encodeURIComponent`
//! does. Both rules come from pairing real Apps (§9).

use std::fmt::Display;

/// Everything before the encoded socket URL.
pub const V4_LINK_PREFIX: &str = "https://dungeon-lab.cn/s/?v=1&action=socket&url=";

/// The URL the App connects to: `base` plus the controller id as `tid`.
///
/// `ws://192.168.1.20:9998` gives `ws://192.168.1.20:9998/?tid=ID` (the root form, the one
/// verified on a real App); a base with a path gives `…/v4?tid=ID` (no slash before `?`:
/// the official relay refused `/v4/`); a base that already has a query gets `&tid=ID`.
pub fn v4_socket_url(base: &str, controller: impl Display) -> String {
    let base = base.trim_end_matches('/');
    if base.contains('?') {
        return format!("{base}&tid={controller}");
    }
    let has_path = base
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if has_path {
        format!("{base}?tid={controller}")
    } else {
        format!("{base}/?tid={controller}")
    }
}

/// The link the QR code carries: [`V4_LINK_PREFIX`] and the encoded [`v4_socket_url`].
pub fn v4_pairing_link(base: &str, controller: impl Display) -> String {
    format!(
        "{V4_LINK_PREFIX}{}",
        encode_uri_component(&v4_socket_url(base, controller))
    )
}

/// JavaScript's `encodeURIComponent`: every UTF-8 byte except `A–Z a–z 0–9 - _ . ! ~ * ' ( )`
/// becomes `%XX` with uppercase hex.
pub fn encode_uri_component(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_s_worked_examples() {
        assert_eq!(
            v4_pairing_link("ws://192.168.1.20:9998/v4", "3f9a1c07"),
            "https://dungeon-lab.cn/s/?v=1&action=socket&url=ws%3A%2F%2F192.168.1.20%3A9998%2Fv4%3Ftid%3D3f9a1c07"
        );
        assert_eq!(
            v4_pairing_link("ws://192.168.1.20:9998", "3f9a1c07"),
            "https://dungeon-lab.cn/s/?v=1&action=socket&url=ws%3A%2F%2F192.168.1.20%3A9998%2F%3Ftid%3D3f9a1c07"
        );
    }

    #[test]
    fn socket_urls_by_base() {
        assert_eq!(
            v4_socket_url("ws://10.0.0.2:9998/", "0000abcd"),
            "ws://10.0.0.2:9998/?tid=0000abcd"
        );
        assert_eq!(
            v4_socket_url("wss://relay.example.org/v4/", "0000abcd"),
            "wss://relay.example.org/v4?tid=0000abcd"
        );
        assert_eq!(
            v4_socket_url("wss://relay.example.org/v4?k=1", "0000abcd"),
            "wss://relay.example.org/v4?k=1&tid=0000abcd"
        );
        assert_eq!(
            v4_socket_url("ws://[fd00::5]:9998", "0000abcd"),
            "ws://[fd00::5]:9998/?tid=0000abcd"
        );
    }

    #[test]
    fn encoding_is_encode_uri_component_and_happens_once() {
        assert_eq!(
            encode_uri_component("aZ09-_.!~*'() :/?=&#%é"),
            "aZ09-_.!~*'()%20%3A%2F%3F%3D%26%23%25%C3%A9"
        );
        let link = v4_pairing_link("ws://h:1", "x");
        let url = link.strip_prefix(V4_LINK_PREFIX).unwrap();
        assert!(!url.contains("%25"), "double-encoded: {url}");
        assert!(!url.contains(['/', ':', '?', '=', '&']), "{url}");
    }
}
