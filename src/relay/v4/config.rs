//! What a V4 relay may be tuned with. The timers follow the official relay (spec
//! docs/v4-protocol.md §4.5, §4.3); the limits are the SOCKET v2 relay's hardening.

use crate::relay::RelayConfig;
use std::time::Duration;

/// V4 relay settings. The caller picks them; the relay never reads the environment.
#[derive(Debug, Clone)]
pub struct V4Config {
    /// `{"type":"heartbeat"}` to every connection this often; `None` turns it off.
    /// The official relay: 30 s.
    pub heartbeat_interval: Option<Duration>,
    /// WebSocket (native) ping to every socket this often; `None` turns it off.
    /// The official relay: 10 s. The real App answers them and drops without them (§9).
    pub ping_interval: Option<Duration>,
    /// A socket that answered none of this many pings in a row (and sent nothing else)
    /// is terminated without a close frame, as the official relay does. Official: 3.
    pub max_missed_pings: u32,
    /// A controller with no App attached for this long gets `idle_timeout` and close
    /// 4002; `None` turns it off. Official: 300 s. Our in-process controllers are exempt:
    /// they live as long as their link.
    pub idle_timeout: Option<Duration>,
    /// Connection limits, queue sizes, the handshake deadline and the write stall
    /// (`ping_timeout`: a socket that takes no batch of frames for that long is dropped as
    /// too slow), shared with the SOCKET v2 relay. Its `heartbeat_interval` and
    /// `ping_interval` are not used here; `max_message_size` is the inbound frame cap.
    pub limits: RelayConfig,
}

/// The inbound frame cap: frames above it close the socket with 1009 (§4.7).
pub const MAX_FRAME: usize = 1024 * 1024;

impl Default for V4Config {
    fn default() -> Self {
        V4Config {
            heartbeat_interval: Some(Duration::from_secs(30)),
            ping_interval: Some(Duration::from_secs(10)),
            max_missed_pings: 3,
            idle_timeout: Some(Duration::from_secs(300)),
            limits: RelayConfig {
                max_message_size: MAX_FRAME,
                // The fd limit is the SOCKET v2 relay's business when both run; a V4 relay
                // on its own raises nothing.
                raise_fd_limit: false,
                ..RelayConfig::default()
            },
        }
    }
}

impl V4Config {
    /// The defaults for a dedicated relay (`dglab-relay serve`): the SOCKET v2 server
    /// limits, the V4 frame cap.
    pub fn server() -> Self {
        V4Config {
            limits: RelayConfig {
                max_message_size: MAX_FRAME,
                raise_fd_limit: false,
                ..RelayConfig::server()
            },
            ..V4Config::default()
        }
    }
}
