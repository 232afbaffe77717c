//! What a relay may be tuned with; the defaults suit a home LAN and a Raspberry Pi.

use std::time::Duration;

/// Relay settings. The caller picks them; the relay never reads the environment.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Interval of the protocol `heartbeat` frame to every socket; `None` turns it off.
    /// The vendor relay uses 60 s.
    pub heartbeat_interval: Option<Duration>,
    /// Interval of the WebSocket ping that finds vanished phones; `None` turns it off.
    pub ping_interval: Option<Duration>,
    /// A socket that has not answered a ping within this time is disconnected and its
    /// pairing freed.
    pub ping_timeout: Duration,
    /// Most sockets connected at once; further connections are closed right after accept.
    pub max_connections: usize,
    /// Largest WebSocket message accepted; larger ones close the socket with 1009.
    pub max_message_size: usize,
    /// Frames queued for one socket before it counts as stuck and is disconnected.
    pub outbound_queue: usize,
    /// Initial read buffer per socket. tungstenite's default (128 KiB) would cost that much
    /// per idle socket; frames here are under 2 KB, and the buffer grows when needed.
    pub read_buffer_size: usize,
    /// Time a new connection has to finish the WebSocket handshake.
    pub handshake_timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            heartbeat_interval: Some(Duration::from_secs(60)),
            ping_interval: Some(Duration::from_secs(15)),
            ping_timeout: Duration::from_secs(15),
            max_connections: 4096,
            max_message_size: 64 * 1024,
            outbound_queue: 512,
            read_buffer_size: 2048,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}
