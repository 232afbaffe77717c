//! The in-process terminal: joins the relay directly, no socket, same [`Terminal`] API.

use super::{channel, Link, Terminal, TerminalEvents};
use crate::relay::RelayHandle;

impl Terminal {
    /// Adds a terminal inside this process to `relay`; its App scans
    /// [`Terminal::pairing_url`]. Several may coexist (one per phone). Closing it (or
    /// dropping every handle) sends `break` 209 to its App.
    pub fn local(relay: &RelayHandle) -> (Terminal, TerminalEvents) {
        let (sink, state, events) = channel();
        let link = relay.join_local(Box::new(sink));
        (Terminal::new(link.id(), Link::Local(link), state), events)
    }
}
