//! Reading a pairing QR code the way the App does: the text after `#DGLAB-SOCKET#` is the
//! WebSocket URL to connect to, and its last path segment is the terminal's id.

/// Where to connect and whom to bind with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `ws://host:port/<terminal id>`: the App connects to the whole URL, id included.
    pub(crate) url: String,
    /// The terminal's id, the bind's `clientId`.
    pub(crate) terminal_id: String,
}

const MARKER: &str = "#DGLAB-SOCKET#";

/// Accepts the QR text (`https://…#DGLAB-SOCKET#ws://host:port/<id>`) or the bare
/// `ws://`/`wss://` URL in it. `None` when there is no terminal id to bind with: the App's
/// code 210.
pub(crate) fn parse(text: &str) -> Option<Target> {
    let text = text.trim();
    let url = match text.find(MARKER) {
        Some(i) => &text[i + MARKER.len()..],
        None => text,
    };
    let lower = url.get(..6).unwrap_or("").to_ascii_lowercase();
    if !(lower.starts_with("ws://") || lower.starts_with("wss://")) {
        return None;
    }
    let after_scheme = &url[url.find("://")? + 3..];
    let (host, path) = after_scheme.split_once('/')?;
    let terminal_id = path.rsplit('/').next()?;
    let id_ok = !terminal_id.is_empty()
        && terminal_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if host.is_empty() || !id_ok || url.contains('#') {
        return None;
    }
    Some(Target {
        url: url.to_owned(),
        terminal_id: terminal_id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b7c3d9e-5a4f-4e21-9c0d-2f6a8b1e4d37";

    #[test]
    fn reads_the_qr_text_and_the_bare_url() {
        let qr = format!(
            "https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#ws://192.168.1.5:9999/{ID}"
        );
        let t = parse(&qr).unwrap();
        assert_eq!(t.url, format!("ws://192.168.1.5:9999/{ID}"));
        assert_eq!(t.terminal_id, ID);
        let t = parse(&format!(" wss://relay.example.org/dglab/{ID}\n")).unwrap();
        assert_eq!(t.url, format!("wss://relay.example.org/dglab/{ID}"));
        assert_eq!(t.terminal_id, ID);
    }

    #[test]
    fn no_terminal_id_is_refused() {
        for bad in [
            "",
            "https://www.dungeon-lab.com/app-download.php",
            "https://www.dungeon-lab.com/app-download.php#DGLAB-SOCKET#",
            "http://192.168.1.5:9999/abc",
            "ws://192.168.1.5:9999",
            "ws://192.168.1.5:9999/",
            "ws:///abc",
            "ws://192.168.1.5:9999/a b",
            "ws://192.168.1.5:9999/abc#x",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
