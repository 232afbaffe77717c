//! Everything a command may reach, managed once by Tauri: the relay, our terminal, the port
//! we ended up on, and the emergency-stop latch.

use dglab_core::protocol::command::Channel;
use dglab_core::{RelayConfig, RelayHandle, Terminal, TerminalEvents};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;

/// How many ports after the preferred one are tried before letting the OS pick any.
const PORT_TRIES: u16 = 100;

/// The port the user asked for and the one the relay listens on; they differ when the
/// preferred port was busy, and the window says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortInfo {
    /// From the settings (9999 by default).
    pub requested: u16,
    /// Where the relay really listens.
    pub actual: u16,
}

/// The desktop app's shared state.
#[derive(Debug)]
pub struct AppState {
    /// The relay the phone connects to; commands read its snapshot, the event forwarder
    /// subscribes to it, and exit shuts it down.
    pub relay: RelayHandle,
    /// Our in-process terminal: the one the QR code pairs the phone with, and the only
    /// path by which this app sends strength and pulses.
    pub terminal: Terminal,
    /// Shown next to the pairing URL, and in the notice when 9999 was busy.
    pub port: PortInfo,
    /// Emergency stop. TEMPORARY: to be replaced by the core's `SafetyHub::emergency_stop`
    /// and its latch once the safety gate is merged; until then the shell keeps the latch.
    pub estop: EmergencyLatch,
}

impl AppState {
    /// Binds `bind:preferred_port` (or the next free port), starts the relay on it and adds
    /// our local terminal. Must run inside the Tokio runtime the relay will live on.
    ///
    /// # Errors
    /// Only when not even an OS-chosen port can be bound on `bind`.
    pub async fn start(
        bind: IpAddr,
        preferred_port: u16,
        config: RelayConfig,
    ) -> std::io::Result<(AppState, TerminalEvents)> {
        let listener = bind_with_fallback(bind, preferred_port).await?;
        let actual = listener.local_addr()?.port();
        if actual != preferred_port {
            log::warn!("port {preferred_port} is busy; the relay listens on {actual} instead");
        }
        let relay = dglab_core::relay::start(listener, config)?;
        let (terminal, events) = relay.local_terminal();
        log::info!(
            "relay listening on {}, local terminal {}",
            relay.local_addr(),
            terminal.id()
        );
        let state = AppState {
            relay,
            terminal,
            port: PortInfo {
                requested: preferred_port,
                actual,
            },
            estop: EmergencyLatch::default(),
        };
        Ok((state, events))
    }

    /// Latches the emergency stop, then sets both channels to 0 and empties both queues at
    /// the App. Sends what it can: a channel that fails (no App paired) does not keep the
    /// other from stopping. Returns whether every command reached the App.
    ///
    /// TEMPORARY: to be replaced by `SafetyHub::emergency_stop` from the core.
    pub fn emergency_stop(&self) -> bool {
        self.estop.latch();
        let mut all_sent = true;
        for ch in Channel::BOTH {
            // Zero first: a clear alone leaves the current strength on the box.
            all_sent &= self.terminal.set_strength(ch, 0).is_ok();
            all_sent &= self.terminal.clear(ch).is_ok();
        }
        log::warn!("emergency stop (all commands sent: {all_sent})");
        all_sent
    }
}

/// Binds the preferred port, else one of the next [`PORT_TRIES`], else any free port.
async fn bind_with_fallback(ip: IpAddr, preferred: u16) -> std::io::Result<TcpListener> {
    if preferred != 0 {
        let last = preferred.saturating_add(PORT_TRIES);
        for port in preferred..=last {
            match TcpListener::bind(SocketAddr::new(ip, port)).await {
                Ok(l) => return Ok(l),
                Err(e) => log::debug!("port {port}: {e}"),
            }
        }
    }
    TcpListener::bind(SocketAddr::new(ip, 0)).await
}

/// A latch that, once set, refuses every strength change until the user re-arms.
#[derive(Debug, Default)]
pub struct EmergencyLatch {
    /// Set by the stop button, Escape and the global shortcut; cleared only by re-arm.
    stopped: AtomicBool,
}

impl EmergencyLatch {
    /// Sets the latch.
    pub fn latch(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
    /// Clears the latch (the user's explicit re-arm).
    pub fn rearm(&self) {
        self.stopped.store(false, Ordering::SeqCst);
    }
    /// Whether strength changes are refused.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[tokio::test]
    async fn busy_preferred_port_falls_back_to_a_later_one() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let taken = TcpListener::bind((lo, 0)).await.unwrap();
        let busy = taken.local_addr().unwrap().port();
        let got = bind_with_fallback(lo, busy).await.unwrap();
        let port = got.local_addr().unwrap().port();
        assert_ne!(port, busy);
        if busy < u16::MAX - PORT_TRIES {
            assert!(
                port > busy && port <= busy + PORT_TRIES,
                "{port} after {busy}"
            );
        }
    }

    #[tokio::test]
    async fn free_preferred_port_is_used() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let probe = TcpListener::bind((lo, 0)).await.unwrap();
        let free = probe.local_addr().unwrap().port();
        drop(probe);
        let got = bind_with_fallback(lo, free).await.unwrap();
        assert_eq!(got.local_addr().unwrap().port(), free);
    }
}
