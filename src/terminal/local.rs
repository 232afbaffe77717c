//! The in-process terminal: joins the registry directly, no socket, same [`Terminal`] API.

use super::{channel, Link, Terminal, TerminalEvents};
use crate::relay::registry::{Outbox, Registry};
use crate::relay::Role;
use tokio_util::sync::CancellationToken;

/// Registers a new local terminal with the relay's registry.
pub(crate) fn join(registry: &Registry) -> (Terminal, TerminalEvents) {
    let (sink, state, events) = channel();
    // Nothing to cancel: a local terminal has no task; it leaves when its handle does.
    let id = registry.join(
        Outbox::Local(sink),
        None,
        Role::Local,
        CancellationToken::new(),
    );
    (
        Terminal::new(id, Link::Local(registry.clone()), state),
        events,
    )
}
