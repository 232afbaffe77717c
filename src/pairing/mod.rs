//! Pairing: everything the App needs to find this relay — the URL it scans, the address
//! inside that URL, and the QR code that carries it.
//!
//! All of it is pure except [`lan_candidates`], which asks the OS for its interfaces; its
//! ranking ([`rank_addresses`]) is a pure function so it can be tested with made-up machines.
//!
//! - [`pairing_url`]: the exact string the App expects (docs/protocol.md, "QR code").
//! - [`lan`]: which of this machine's IPv4 addresses a phone on the same Wi-Fi can reach.
//! - [`url`]: `ws://host:port` bases and validation of a user-supplied public URL.
//! - [`qr`]: the QR code as SVG (desktop UI).
//! - [`check`]: the phone reachability page the relay serves, and its URL.
//! - [`doctor`]: why each address ranks where it does, whether the relay answers there,
//!   what the local firewall says ([`firewall`]), hints for a typed public URL.
//! - [`v4`]: the DG-LAB App 4.x link (`https://dungeon-lab.cn/s/?…&url=<encoded ws://…/?tid=ID>`).

pub mod check;
pub mod doctor;
pub mod firewall;
pub mod lan;
pub mod qr;
pub mod url;
pub mod v4;

pub use check::phone_check_url;
pub use lan::{
    interface_addresses, is_virtual_interface, lan_candidates, parse_default_route_interfaces,
    rank_addresses, InterfaceAddr, LanCandidate, Tier,
};
pub use qr::{qr_svg, QrError};
pub use url::{validate_public_url, ws_base, PublicUrlError};
pub use v4::{encode_uri_component, v4_pairing_link, v4_socket_url, V4_LINK_PREFIX};

use uuid::Uuid;

/// The fixed part of every pairing URL; the App recognises the `#DGLAB-SOCKET#` marker.
pub const PAIRING_PREFIX: &str = "https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#";

/// `https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#<base>/<terminal id>`.
/// `base` is `ws://host:port` or `wss://host[:port][/path]`; a trailing `/` is dropped, so
/// nothing stands between the address and the id.
pub fn pairing_url(base: &str, terminal: Uuid) -> String {
    format!("{PAIRING_PREFIX}{}/{terminal}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_url_has_two_hashes_and_nothing_after_the_id() {
        let id = Uuid::nil();
        let url = pairing_url("ws://192.168.1.5:9999/", id);
        assert_eq!(
            url,
            "https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#ws://192.168.1.5:9999/00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(url.matches('#').count(), 2);
    }
}
