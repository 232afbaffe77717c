//! The pairing QR code, drawn two ways: an SVG for the desktop UI and Unicode half blocks
//! for a terminal. Both keep the standard 4-module quiet zone: phone scanners find the code
//! by its light border.

use qrcode::render::svg;
use qrcode::QrCode;

/// Light margin around the code, in modules (the QR standard asks for 4).
const QUIET_ZONE: usize = 4;

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
    // The default error correction (M, 15%) keeps the code small enough for an 80-column
    // terminal while tolerating a glare spot on a screen.
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

/// `text`'s QR code for a terminal, two module rows per line with `▀ ▄ █` and space, the
/// quiet zone included, every line the same width, each ending in `\n`.
///
/// Terminals draw glyphs in the foreground colour, which is light on the usual dark
/// background, so the glyphs paint the QR's *light* modules and dark modules are left
/// blank. The phone then sees dark modules on a light field, as the standard wants. (On a
/// light-background terminal the code appears inverted; most phone scanners, the DG-LAB
/// App's included, read those poorly, so prefer a dark terminal or the SVG.)
///
/// # Errors
/// [`QrError::TooLong`] when the text does not fit in a QR code (a pairing URL always fits).
pub fn qr_text(text: &str) -> Result<String, QrError> {
    let code = encode(text)?;
    let n = code.width();
    let colors = code.to_colors();
    let size = n + 2 * QUIET_ZONE;
    // Light means "ink" here; rows past the bottom edge are terminal background (no ink).
    let light = |x: usize, y: usize| -> bool {
        if y >= size {
            return false;
        }
        let inside =
            (QUIET_ZONE..QUIET_ZONE + n).contains(&x) && (QUIET_ZONE..QUIET_ZONE + n).contains(&y);
        !inside || colors[(y - QUIET_ZONE) * n + (x - QUIET_ZONE)] == qrcode::Color::Light
    };
    let mut out = String::with_capacity(size.div_ceil(2) * (size * 3 + 1));
    for y in (0..size).step_by(2) {
        for x in 0..size {
            out.push(match (light(x, y), light(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairing::{pairing_url, ws_base};
    use qrcode::Version;
    use uuid::Uuid;

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
    fn text_has_quiet_zone_and_fixed_shape() {
        let url = sample_url();
        let text = qr_text(&url).unwrap();
        let size = 45 + 2 * QUIET_ZONE;
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
    fn text_is_dark_modules_on_light_and_scans_back() {
        let url = sample_url();
        let code = encode(&url).unwrap();
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
        assert_eq!(qr_text(&long), Err(QrError::TooLong { len: 4000 }));
        assert_eq!(qr_svg(&long), Err(QrError::TooLong { len: 4000 }));
    }
}
