//! `serve --local-terminal`'s game API: the Game-Hub-compatible HTTP API on
//! 127.0.0.1:8920 by default, driving the local terminal's App through its gate.
//!
//! Flags (flattened into `serve`'s): `--http-port N` (0: off; default 8920 with
//! `--local-terminal`), `--http-host ADDR` (default 127.0.0.1; anything else needs
//! `--api-token`), `--api-token T`. Game output switches on at a game's first accepted
//! request and then runs while an App is paired; the emergency stop (Ctrl-C/SIGTERM)
//! turns it off before the relay closes.

use clap::Args;
use dglab_core::gamehub::{self, GameHub, HttpConfig, HttpServer};
use dglab_core::safety::{GuardedTerminal, SafetyHub};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::sync::broadcast::error::RecvError;

/// How long requests in progress may take to finish at shutdown.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Shortest token accepted: it is all that stands between the LAN and the box.
const MIN_TOKEN_LEN: usize = 12;

/// The game API's flags as typed.
#[derive(Debug, Args)]
pub struct GameApiFlags {
    /// Port of the game API (Coyote-Game-Hub compatible, for
    /// game mods and bots); 0 turns it off. Default 8920
    /// with --local-terminal
    #[arg(long, value_name = "N", verbatim_doc_comment)]
    http_port: Option<u16>,
    /// Address of the game API (default 127.0.0.1: this
    /// machine only). Any other address needs --api-token
    #[arg(long, value_name = "ADDR", verbatim_doc_comment)]
    http_host: Option<IpAddr>,
    /// Token other machines must send to the game API
    /// (Authorization: Bearer <T>), at least 12 characters
    #[arg(long, value_name = "T", verbatim_doc_comment)]
    api_token: Option<String>,
}

/// The game API's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameApiArgs {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The port was given on the command line (a busy default only warns).
    pub explicit: bool,
    /// Required from other machines.
    pub token: Option<String>,
}

impl GameApiFlags {
    /// `None` when the API is off. Errors are usage errors, in words naming the flag.
    pub fn resolve(&self, local_terminal: bool) -> Result<Option<GameApiArgs>, String> {
        if let Some(t) = &self.api_token {
            if t.chars().count() < MIN_TOKEN_LEN || t.chars().any(char::is_whitespace) {
                return Err(format!(
                    "--api-token must be at least {MIN_TOKEN_LEN} characters without spaces"
                ));
            }
        }
        if !local_terminal {
            if self.http_port.is_some_and(|p| p > 0)
                || self.http_host.is_some()
                || self.api_token.is_some()
            {
                return Err("the game API (--http-port, --http-host, --api-token) drives the local terminal: add --local-terminal".into());
            }
            return Ok(None);
        }
        let port = self.http_port.unwrap_or(gamehub::DEFAULT_PORT);
        if port == 0 {
            return Ok(None);
        }
        let host = self.http_host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        if !host.is_loopback() && self.api_token.is_none() {
            return Err(format!(
                "--http-host {host} makes the game API reachable from other machines: give --api-token <T> as well"
            ));
        }
        Ok(Some(GameApiArgs {
            addr: SocketAddr::new(host, port),
            explicit: self.http_port.is_some(),
            token: self.api_token.clone(),
        }))
    }
}

/// The running API: its server and the hub behind it.
pub struct GameApi {
    server: HttpServer,
    games: GameHub,
}

impl GameApi {
    /// Stops the server (requests in progress finish) and the output loops.
    pub async fn shutdown(self) {
        let _ = self.games.set_output(false);
        // A client holding a request open must not hold up the relay's exit.
        if tokio::time::timeout(SHUTDOWN_GRACE, self.server.shutdown())
            .await
            .is_err()
        {
            log::warn!(
                "game API: requests still open after {} s; leaving them",
                SHUTDOWN_GRACE.as_secs()
            );
        }
    }
}

/// Starts the API for `terminal`. `Ok(None)` when the default port is taken (a warning
/// says so and the relay runs on); `Err(exit code)` after printing the reason when the
/// user's own choice cannot be honoured.
pub async fn start(
    args: &GameApiArgs,
    hub: &SafetyHub,
    terminal: &GuardedTerminal,
) -> Result<Option<GameApi>, i32> {
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(l) => l,
        Err(e) => {
            let line = bind_error(&e, args.addr);
            if args.explicit {
                eprintln!("error: {line}");
                return Err(2);
            }
            log::warn!("{line}; the relay runs on without it");
            return Ok(None);
        }
    };
    let games = GameHub::new(hub.clone(), None);
    games.add_terminal(terminal.clone());
    let config = HttpConfig {
        token: args.token.clone(),
        // Headless has no "start game" button: a game's first request is it, so pairing
        // the App for the local terminal alone still makes it do nothing.
        start_output_on_request: true,
        ..HttpConfig::default()
    };
    let server = match gamehub::serve_http(listener, games.clone(), config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(2);
        }
    };
    tokio::spawn(log_events(games.subscribe()));
    log::info!(
        "game API on http://{} (connect code {}){}",
        server.local_addr(),
        server.connect_code(terminal.id()),
        if args.token.is_some() {
            "; other machines need the API token"
        } else {
            ""
        }
    );
    Ok(Some(GameApi { server, games }))
}

/// One plain sentence naming the flag that fixes it.
fn bind_error(e: &std::io::Error, addr: SocketAddr) -> String {
    let port = addr.port();
    match e.kind() {
        ErrorKind::AddrInUse => format!(
            "game API: port {port} is already in use (is Coyote-Game-Hub running?); choose another with --http-port <N>, or --http-port 0 to turn the API off"
        ),
        ErrorKind::AddrNotAvailable => format!(
            "game API: {} is not an address of this machine; choose another with --http-host <ADDR>",
            addr.ip()
        ),
        _ => format!("game API: cannot listen on {addr}: {e}; choose another --http-port <N>"),
    }
}

/// Every API write and refusal as a log line: each is safety-relevant.
async fn log_events(mut rx: tokio::sync::broadcast::Receiver<gamehub::GameHubEvent>) {
    loop {
        match rx.recv().await {
            Ok(ev) => {
                let (level, line) = ev.log_line();
                log::log!(level, "{line}");
            }
            Err(RecvError::Lagged(n)) => {
                log::warn!("the log fell behind; {n} game API events not shown")
            }
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(port: Option<u16>, host: Option<&str>, token: Option<&str>) -> GameApiFlags {
        GameApiFlags {
            http_port: port,
            http_host: host.map(|h| h.parse().unwrap()),
            api_token: token.map(str::to_owned),
        }
    }

    #[test]
    fn the_api_defaults_to_loopback_8920_with_a_local_terminal_only() {
        let on = flags(None, None, None).resolve(true).unwrap().unwrap();
        assert_eq!(on.addr, "127.0.0.1:8920".parse().unwrap());
        assert!(!on.explicit);
        assert_eq!(flags(None, None, None).resolve(false), Ok(None));
        assert_eq!(flags(Some(0), None, None).resolve(true), Ok(None));
        assert!(flags(Some(9000), None, None).resolve(false).is_err());
    }

    #[test]
    fn lan_exposure_needs_a_real_token() {
        let e = flags(None, Some("0.0.0.0"), None)
            .resolve(true)
            .unwrap_err();
        assert!(e.contains("--api-token"), "{e}");
        assert!(flags(None, Some("0.0.0.0"), Some("short"))
            .resolve(true)
            .is_err());
        let ok = flags(Some(8921), Some("0.0.0.0"), Some("a-long-enough-token"))
            .resolve(true)
            .unwrap()
            .unwrap();
        assert_eq!(ok.token.as_deref(), Some("a-long-enough-token"));
        assert!(ok.explicit);
    }
}
