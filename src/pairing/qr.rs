//! The pairing QR code as an SVG for the desktop UI, with the standard 4-module quiet
//! zone: phone scanners find the code by its light border. (`dglab-relay` draws its own
//! text version for the terminal with the `qrcode` crate's `Dense1x2` renderer.)

use qrcode::render::svg;
use qrcode::QrCode;

/// Pixels per module in the SVG's `width`/`height`; the `viewBox` lets CSS scale it freely.
const SVG_MODULE_PX: u32 = 8;

/// Why a text could not become a QR code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// More data than the largest QR code holds (about 2.3 KB at this error correction).
    #[error("{len} bytes do not fit in a QR code")]
    TooLong {
        /// Length of the text in bytes.
        len: usize,
    },
    /// The encoder refused the data for another reason.
    #[error("QR encoding failed: {0}")]
    Encode(String),
}

fn encode(text: &str) -> Result<QrCode, QrError> {
    // The default error correction (M, 15%) keeps the code small (version 7 for a LAN
    // pairing URL) while tolerating a glare spot on a screen.
    QrCode::new(text.as_bytes()).map_err(|e| match e {
        qrcode::types::QrError::DataTooLong => QrError::TooLong { len: text.len() },
        other => QrError::Encode(other.to_string()),
    })
}

/// A standalone SVG of `text`'s QR code: black modules on a white background with the
/// quiet zone, 8 px per module, with a `viewBox` so it scales.
///
/// # Errors
/// [`QrError::TooLong`] when the text does not fit in a QR code (a pairing URL always fits).
pub fn qr_svg(text: &str) -> Result<String, QrError> {
    Ok(encode(text)?
        .render::<svg::Color<'_>>()
        .module_dimensions(SVG_MODULE_PX, SVG_MODULE_PX)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairing::{pairing_url, ws_base};
    use qrcode::Version;
    use uuid::Uuid;

    /// Light margin around the code, in modules (the QR standard asks for 4; the `qrcode`
    /// crate's `quiet_zone(true)` draws it).
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

    #[test]
    fn version_matches_the_url_length() {
        let url = sample_url();
        // The 58-byte prefix, "ws://192.168.1.5:9999/" (22) and a 36-character UUID.
        assert_eq!(url.len(), 116);
        let code = encode(&url).unwrap();
        // Byte mode at level M holds 106 bytes in version 6 and 122 in version 7.
        assert_eq!(code.version(), Version::Normal(7));
        assert_eq!(code.width(), 17 + 4 * 7);
    }

    #[test]
    fn svg_is_standalone_black_on_white_and_scans_back() {
        let url = sample_url();
        let svg = qr_svg(&url).unwrap();
        let px = (45 + 2 * QUIET_ZONE) as u32 * SVG_MODULE_PX;
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains(&format!(r#"viewBox="0 0 {px} {px}""#)));
        assert!(svg.contains(r##"fill="#ffffff""##) && svg.contains(r##"fill="#000000""##));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg, qr_svg(&url).unwrap(), "deterministic");

        // Paint the path's rectangles ("M{x} {y}h{w}v{h}H{x}V{y}") and scan the result.
        let modules = px / SVG_MODULE_PX;
        let mut dark = vec![vec![false; modules as usize]; modules as usize];
        let d = svg.split(r#" d=""#).nth(1).unwrap();
        for rect in d.split('M').filter(|r| !r.is_empty()) {
            let nums: Vec<u32> = rect
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            let (x, y) = (nums[0] / SVG_MODULE_PX, nums[1] / SVG_MODULE_PX);
            assert_eq!((nums[2], nums[3]), (SVG_MODULE_PX, SVG_MODULE_PX));
            dark[y as usize][x as usize] = true;
        }
        let q = QUIET_ZONE;
        assert!(
            dark[..q].iter().flatten().all(|d| !d),
            "quiet zone stays white"
        );
        let m = modules as usize;
        assert_eq!(scan(m, m, |x, y| !dark[y][x]), url);
    }

    #[test]
    fn too_long_is_a_typed_error() {
        let long = "x".repeat(4000);
        assert_eq!(qr_svg(&long), Err(QrError::TooLong { len: 4000 }));
    }
}
