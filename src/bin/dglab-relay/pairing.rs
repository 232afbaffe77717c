//! Which address goes into the local terminal's QR code, and the block printed on stdout
//! for the user to scan. The choice is pure ([`choose`]) so each case is tested.

use dglab_core::pairing::{lan_candidates, qr_text, ws_base, LanCandidate, Tier};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The base URL for the QR code, and what else the user might try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// `ws://…` or `wss://…` without the terminal id.
    pub base: String,
    /// Where `base` came from, e.g. `wlan0` or `--public-url`.
    pub source: String,
    /// Other bases with their interface, best first.
    pub others: Vec<(String, String)>,
    /// Why the phone might not reach `base`, to log as a warning.
    pub warning: Option<String>,
}

/// Picks the base: `--public-url` if given; else the listening address if it is a specific
/// one; else (listening everywhere) the best LAN candidate.
pub fn choose(public_url: Option<&str>, local: SocketAddr, candidates: &[LanCandidate]) -> Choice {
    let port = local.port();
    if let Some(url) = public_url {
        let host = url.split("://").nth(1).unwrap_or("");
        let loopback =
            host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
        return Choice {
            base: url.to_owned(),
            source: "--public-url".into(),
            others: Vec::new(),
            warning: loopback.then(|| {
                format!("{url} is a loopback address: only this machine can use it, not a phone")
            }),
        };
    }
    if !local.ip().is_unspecified() {
        return Choice {
            base: ws_base(local.ip(), port),
            source: "--host".into(),
            others: Vec::new(),
            warning: local.ip().is_loopback().then(|| {
                format!(
                    "listening on {} only: a phone cannot connect; use --host 0.0.0.0 or --public-url",
                    local.ip()
                )
            }),
        };
    }
    let mut bases = candidates
        .iter()
        .map(|c| (ws_base(IpAddr::V4(c.addr), port), describe(c)));
    match bases.next() {
        Some((base, source)) => Choice {
            warning: (candidates[0].tier == Tier::Virtual).then(|| {
                format!(
                    "{source} looks like a VPN or virtual adapter; if the phone cannot connect, \
                     pass --public-url ws://<this machine's Wi-Fi address>:{port}"
                )
            }),
            base,
            source,
            others: bases.collect(),
        },
        None => Choice {
            base: ws_base(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            source: "loopback".into(),
            others: Vec::new(),
            warning: Some(format!(
                "no LAN address found, so the QR code uses 127.0.0.1, which a phone cannot reach; \
                 pass --public-url ws://<address>:{port}"
            )),
        },
    }
}

fn describe(c: &LanCandidate) -> String {
    match c.tier {
        Tier::Virtual => format!("{}, virtual adapter", c.interface),
        Tier::Other => format!("{}, public address", c.interface),
        Tier::DefaultRoute | Tier::Lan => c.interface.clone(),
    }
}

/// The best choice for this machine right now.
pub fn choose_here(public_url: Option<&str>, local: SocketAddr) -> Choice {
    let candidates = if public_url.is_none() && local.ip().is_unspecified() {
        lan_candidates().unwrap_or_else(|e| {
            log::warn!("cannot list this machine's network interfaces: {e}");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    choose(public_url, local, &candidates)
}

/// The text block for stdout: the URL, the QR code, and the alternatives.
pub fn block(choice: &Choice, url: &str) -> String {
    let mut out = String::new();
    out.push_str("Scan with the DG-LAB App (SOCKET control) to pair with this relay:\n\n");
    match qr_text(url) {
        Ok(qr) => out.push_str(&qr),
        Err(e) => out.push_str(&format!("(no QR code: {e})\n")),
    }
    out.push_str(&format!("\nPairing URL: {url}\n"));
    out.push_str(&format!(
        "Address:     {} ({})\n",
        choice.base, choice.source
    ));
    if !choice.others.is_empty() {
        out.push_str("If the phone cannot connect, try one of these with --public-url:\n");
        for (base, why) in &choice.others {
            out.push_str(&format!("  {base}  ({why})\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(interface: &str, addr: [u8; 4], tier: Tier) -> LanCandidate {
        LanCandidate {
            interface: interface.into(),
            addr: addr.into(),
            tier,
        }
    }

    fn any(port: u16) -> SocketAddr {
        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)
    }

    #[test]
    fn best_lan_address_and_the_rest() {
        let c = choose(
            None,
            any(9999),
            &[
                cand("wlan0", [192, 168, 1, 5], Tier::DefaultRoute),
                cand("docker0", [172, 17, 0, 1], Tier::Virtual),
            ],
        );
        assert_eq!(c.base, "ws://192.168.1.5:9999");
        assert_eq!(c.source, "wlan0");
        assert_eq!(
            c.others,
            [(
                "ws://172.17.0.1:9999".to_owned(),
                "docker0, virtual adapter".to_owned()
            )]
        );
        assert_eq!(c.warning, None);
    }

    #[test]
    fn public_url_wins_and_loopback_warns() {
        let lan = [cand("wlan0", [192, 168, 1, 5], Tier::DefaultRoute)];
        let c = choose(Some("wss://relay.example.org"), any(9999), &lan);
        assert_eq!(
            (c.base.as_str(), c.warning),
            ("wss://relay.example.org", None)
        );
        let c = choose(Some("ws://127.0.0.1:4000"), any(4000), &lan);
        assert!(c.warning.unwrap().contains("loopback"));
    }

    #[test]
    fn specific_host_is_used_as_is() {
        let c = choose(None, "192.168.1.9:80".parse().unwrap(), &[]);
        assert_eq!((c.base.as_str(), c.warning), ("ws://192.168.1.9:80", None));
        let c = choose(None, "127.0.0.1:80".parse().unwrap(), &[]);
        assert!(c.warning.unwrap().contains("a phone cannot connect"));
    }

    #[test]
    fn nothing_found_falls_back_with_a_warning() {
        let c = choose(None, any(9999), &[]);
        assert_eq!(c.base, "ws://127.0.0.1:9999");
        assert!(c.warning.unwrap().contains("--public-url"));
        let c = choose(
            None,
            any(9999),
            &[cand("tun0", [10, 8, 0, 2], Tier::Virtual)],
        );
        assert!(c.warning.unwrap().contains("tun0, virtual adapter"));
    }

    #[test]
    fn block_lists_url_qr_and_alternatives() {
        let c = choose(
            None,
            any(9999),
            &[
                cand("wlan0", [192, 168, 1, 5], Tier::DefaultRoute),
                cand("eth0", [10, 0, 0, 2], Tier::Lan),
            ],
        );
        let text = block(&c, "https://example/#DGLAB-SOCKET#ws://192.168.1.5:9999/x");
        assert!(text.contains("█"));
        assert!(
            text.contains("Pairing URL: https://example/#DGLAB-SOCKET#ws://192.168.1.5:9999/x\n")
        );
        assert!(text.contains("  ws://10.0.0.2:9999  (eth0)\n"));
    }
}
