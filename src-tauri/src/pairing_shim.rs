//! TEMPORARY stand-ins for the core's `pairing` module (LAN address ranking, public URL
//! validation, QR as SVG), which is finished on another branch. Same shapes as there, so
//! after `git merge main` the callers switch to `dglab_core::pairing::*` and this file goes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// This machine's address on the default route, found the cheap portable way: a UDP socket
/// "connected" to a documentation address (RFC 5737) sends nothing but makes the OS pick
/// the outgoing interface.
pub fn best_lan_address() -> Option<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    match socket.local_addr().ok()?.ip() {
        IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

/// `ws://192.168.1.5:9999`.
pub fn ws_base(host: IpAddr, port: u16) -> String {
    format!("ws://{}", SocketAddr::new(host, port))
}

/// A typed relay URL (`ws://` or `wss://`, a host, no `#` or `?`), trailing `/` dropped.
pub fn validate_public_url(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.chars().any(char::is_whitespace) || input.contains('#') || input.contains('?') {
        return Err("the address must not contain spaces, '#' or '?'".into());
    }
    let rest = input
        .strip_prefix("ws://")
        .or_else(|| input.strip_prefix("wss://"))
        .ok_or("the address must start with ws:// or wss://")?;
    if rest.split('/').next().unwrap_or("").is_empty() {
        return Err("the address has no host".into());
    }
    Ok(input.trim_end_matches('/').to_owned())
}

/// The QR code of `text` as a standalone SVG with the 4-module quiet zone.
pub fn qr_svg(text: &str) -> Result<String, String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(code
        .render::<svg::Color<'_>>()
        .module_dimensions(8, 8)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
}
