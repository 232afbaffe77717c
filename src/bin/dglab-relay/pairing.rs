//! Which address goes into the local terminal's QR code, and the block printed on stdout
//! for the user to scan, the QR code drawn in text. The choice is pure ([`choose`]) so
//! each case is tested.

use dglab_core::pairing::{lan_candidates, ws_base, LanCandidate, Tier};
use qrcode::render::unicode::Dense1x2;
use qrcode::types::QrError;
use qrcode::{EcLevel, QrCode};
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

/// `text`'s QR code for a terminal: the `qrcode` crate's `Dense1x2` renderer, two module
/// rows per line with `▀ ▄ █` and space, the 4-module quiet zone included, every line the
/// same width and ending in `\n`.
///
/// Terminals draw glyphs in the foreground colour, which is light on the usual dark
/// background, so the renderer's colours are swapped: the glyphs paint the QR's *light*
/// modules and dark modules are left blank. The phone then sees dark modules on a light
/// field, as the standard wants. (On a light-background terminal the code appears
/// inverted; most phone scanners, the DG-LAB App's included, read those poorly.)
///
/// # Errors
/// [`QrError::DataTooLong`] when the text does not fit (a pairing URL always fits).
pub fn qr_text(text: &str) -> Result<String, QrError> {
    // Level M (15%) keeps a LAN pairing URL at version 7, 53 columns with the quiet zone:
    // small enough for an 80-column terminal, and it tolerates a glare spot on a screen.
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let mut out = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    out.push('\n');
    Ok(out)
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
    use dglab_core::pairing::pairing_url;
    use uuid::Uuid;

    /// Light margin around the code, in modules.
    const QUIET_ZONE: usize = 4;

    fn sample_url() -> String {
        let id = Uuid::parse_str("3f2a1c9e-8b7d-4e6f-a5b4-c3d2e1f09876").unwrap();
        pairing_url(&ws_base([192, 168, 1, 5].into(), 9999), id)
    }

    /// Decodes a light/dark picture the way a phone camera would (rqrr, scaled up 4×).
    fn scan(size_x: usize, size_y: usize, light: impl Fn(usize, usize) -> bool) -> String {
        const SCALE: usize = 4;
        let mut img =
            rqrr::PreparedImage::prepare_from_greyscale(size_x * SCALE, size_y * SCALE, |x, y| {
                if light(x / SCALE, y / SCALE) {
                    255
                } else {
                    0
                }
            });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "exactly one QR code in the picture");
        grids[0].decode().unwrap().1
    }

    /// The terminal text back as a picture: each glyph is two modules stacked; ink is light.
    fn text_to_picture(text: &str) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in text.lines() {
            let (top, bottom): (Vec<bool>, Vec<bool>) = line
                .chars()
                .map(|c| match c {
                    '█' => (true, true),
                    '▀' => (true, false),
                    '▄' => (false, true),
                    ' ' => (false, false),
                    other => panic!("unexpected glyph {other:?}"),
                })
                .unzip();
            rows.push(top);
            rows.push(bottom);
        }
        rows
    }

    #[test]
    fn qr_text_has_quiet_zone_and_fixed_shape() {
        let url = sample_url();
        let text = qr_text(&url).unwrap();
        // Version 7: 45 modules, plus the quiet zone on both sides.
        let size = 45 + 2 * QUIET_ZONE;
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), size.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == size));
        // The top four module rows and the side columns are quiet zone: all ink (light).
        assert!(lines[..2].iter().all(|l| l.chars().all(|c| c == '█')));
        for l in &lines[..lines.len() - 1] {
            let chars: Vec<char> = l.chars().collect();
            assert!(chars[..QUIET_ZONE].iter().all(|&c| c == '█'));
            assert!(chars[size - QUIET_ZONE..].iter().all(|&c| c == '█'));
        }
        // 53 rows: the last line's lower half is past the code, so only upper halves.
        assert!(lines[lines.len() - 1].chars().all(|c| c == '▀'));
        assert_eq!(text, qr_text(&url).unwrap(), "deterministic");
    }

    #[test]
    fn qr_text_is_dark_modules_on_light_and_scans_back() {
        let url = sample_url();
        let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).unwrap();
        let n = code.width();
        let colors = code.to_colors();
        let picture = text_to_picture(&qr_text(&url).unwrap());
        // A finder pattern's top-left corner is a dark module: no ink there.
        assert!(!picture[QUIET_ZONE][QUIET_ZONE]);
        for y in 0..n {
            for x in 0..n {
                let dark = colors[y * n + x] == qrcode::Color::Dark;
                assert_eq!(picture[y + QUIET_ZONE][x + QUIET_ZONE], !dark, "({x},{y})");
            }
        }
        let w = picture[0].len();
        let scanned = scan(w, picture.len(), |x, y| picture[y][x]);
        assert_eq!(scanned, url);
    }

    #[test]
    fn qr_text_too_long_is_an_error() {
        assert_eq!(qr_text(&"x".repeat(4000)), Err(QrError::DataTooLong));
    }

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
