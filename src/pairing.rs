//! Pairing: the URL the App scans.

use uuid::Uuid;

/// The fixed part of every pairing URL; the App recognises the `#DGLAB-SOCKET#` marker.
pub const PAIRING_PREFIX: &str = "https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#";

/// `https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#<base>/<terminal id>`.
/// `base` is `ws://host:port` or `wss://host[:port][/path]`; a trailing `/` is dropped, so
/// nothing stands between the address and the id.
pub fn pairing_url(base: &str, terminal: Uuid) -> String {
    format!("{PAIRING_PREFIX}{}/{terminal}", base.trim_end_matches('/'))
}
