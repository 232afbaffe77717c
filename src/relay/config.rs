//! What a relay may be tuned with; the defaults suit a home LAN and a Raspberry Pi, and
//! [`RelayConfig::server`] a public relay.

use std::net::IpAddr;
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
    /// pairing freed. Also the longest a socket's writer may go without getting one batch
    /// of frames out: a peer that stopped reading is dropped as "too slow" after it.
    pub ping_timeout: Duration,
    /// Most sockets connected at once (handshakes included); further connections get a
    /// 503 and are closed right after accept. Each socket costs one file descriptor: the
    /// relay raises its soft `RLIMIT_NOFILE` toward the hard limit at start (see
    /// [`RelayConfig::raise_fd_limit`]).
    pub max_connections: usize,
    /// Of [`RelayConfig::max_connections`], this many are kept for addresses that hold
    /// fewer than [`RESERVE_SHARE`] connections, so that one address that has filled the
    /// rest cannot keep a phone elsewhere (and its terminal) from connecting.
    pub reserved_connections: usize,
    /// Most connections from one public (global) address.
    pub max_per_address: usize,
    /// Most connections from one LAN address (private IPv4, link-local, IPv6 unique-local):
    /// a household's phones and terminals, or one machine running several terminals.
    pub max_per_lan_address: usize,
    /// Most connections from one loopback address (127.0.0.0/8, ::1): unlimited by default,
    /// since local tools and load tests run there; the cap and the reserve still apply.
    pub max_per_loopback_address: usize,
    /// Raise the process's soft open-files limit toward the hard limit when the relay
    /// starts (unix; elsewhere it does nothing).
    pub raise_fd_limit: bool,
    /// Largest WebSocket message accepted; larger ones close the socket with 1009.
    pub max_message_size: usize,
    /// Most frames queued for one socket. From half of it the queue is crowded and
    /// whoever fills it (its partner, or the socket itself with error replies) is not read
    /// until it drains; a full queue (only timers and local terminals can still fill it)
    /// drops the socket as stuck.
    pub outbound_queue: usize,
    /// Kernel send buffer per socket (`SO_SNDBUF`); `None` leaves the system's autotuning.
    /// Frames here are small and a phone takes ten a second, so a small buffer costs no
    /// throughput that matters, while it keeps a slow reader's pings and heartbeats from
    /// waiting behind megabytes already handed to the kernel, and lets a stalled reader be
    /// noticed sooner.
    pub send_buffer_size: Option<usize>,
    /// Initial read buffer per socket. tungstenite's default (128 KiB) would cost that much
    /// per idle socket; frames here are under 2 KB, and the buffer grows when needed.
    pub read_buffer_size: usize,
    /// Time a new connection has to send its upgrade request and finish the WebSocket
    /// handshake; a slower one is closed (its slot freed).
    pub handshake_timeout: Duration,
}

/// The fewest connections an address may hold and still get one of the reserved ones: a
/// phone needs one, a terminal on the same host a second.
pub const RESERVE_SHARE: usize = 2;

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            heartbeat_interval: Some(Duration::from_secs(60)),
            ping_interval: Some(Duration::from_secs(15)),
            ping_timeout: Duration::from_secs(15),
            max_connections: 4096,
            reserved_connections: 256,
            max_per_address: 32,
            max_per_lan_address: 256,
            max_per_loopback_address: usize::MAX,
            raise_fd_limit: true,
            max_message_size: 64 * 1024,
            outbound_queue: 512,
            send_buffer_size: Some(64 * 1024),
            read_buffer_size: 2048,
            handshake_timeout: Duration::from_secs(5),
        }
    }
}

impl RelayConfig {
    /// The defaults for a dedicated relay (`dglab-relay serve`): room for 10,000 pairs
    /// (20,000 sockets and headroom), a larger reserve; the rest as [`Default`].
    pub fn server() -> Self {
        RelayConfig {
            max_connections: 24_000,
            reserved_connections: 1024,
            ..RelayConfig::default()
        }
    }

    /// The per-address limit for connections from `ip`.
    pub fn limit_for(&self, ip: IpAddr) -> usize {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let (loopback, lan) = match ip {
            IpAddr::V4(v4) => (
                v4.is_loopback(),
                v4.is_private() || v4.is_link_local() || v4.is_unspecified(),
            ),
            IpAddr::V6(v6) => (
                v6.is_loopback(),
                v6.is_unique_local() || v6.is_unicast_link_local() || v6.is_unspecified(),
            ),
        };
        if loopback {
            self.max_per_loopback_address
        } else if lan {
            self.max_per_lan_address
        } else {
            self.max_per_address
        }
    }
}
