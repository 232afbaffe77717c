//! `dglab-relay serve`: bind, start the relay, log its events (and the local terminal's)
//! until Ctrl-C or SIGTERM, then shut down cleanly.
//!
//! Bind failures are the common mistake (a second copy running, a port below 1024), so
//! each gets one plain line on stderr and exit code 2 instead of a backtrace-like chain.

use crate::args::ServeArgs;
use crate::{pairing, report};
use dglab_core::relay::{self, RelayConfig, RelayHandle};
use dglab_core::{TerminalEvent, TerminalEvents};
use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// How long shutdown may take before we give up on stuck peers and exit anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the relay until a shutdown signal; returns the process exit code.
pub fn run(args: ServeArgs) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    rt.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> i32 {
    let wanted = SocketAddr::new(args.host, args.port);
    let listener = match TcpListener::bind(wanted).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {}", bind_error(&e, wanted));
            return 2;
        }
    };
    // Installed before the startup line, so whoever waits for that line (a service manager,
    // the tests) can signal us right away.
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot install signal handlers: {e}");
            return 1;
        }
    };
    let config = RelayConfig {
        heartbeat_interval: args.heartbeat,
        ..RelayConfig::default()
    };
    let relay = match relay::start(listener, config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the relay: {e}");
            return 1;
        }
    };
    let mut events = relay.subscribe();
    let heartbeat = match args.heartbeat {
        Some(d) => format!("heartbeat every {} s", d.as_secs()),
        None => "heartbeat off".to_owned(),
    };
    log::info!(
        "dglab-relay {} listening on {} ({heartbeat})",
        env!("CARGO_PKG_VERSION"),
        relay.local_addr()
    );

    let mut terminal = args
        .local_terminal
        .then(|| start_local_terminal(&relay, args.public_url.as_deref()));
    let mut terminal_events = terminal.as_mut().map(|(_, ev)| ev);

    let signal = loop {
        // Biased: a signal wins over more traffic, and when both streams are ready the
        // relay's line (bind 200) comes before the terminal's (App paired), as it happened.
        tokio::select! {
            biased;
            name = signals.recv() => break name,
            ev = events.recv() => match ev {
                Ok(ev) => log_relay_event(&ev),
                Err(RecvError::Lagged(n)) => log::warn!("the log fell behind; {n} relay events not shown"),
                Err(RecvError::Closed) => break "relay stopped",
            },
            ev = next_terminal_event(&mut terminal_events) => match ev {
                Some(ev) => log_terminal_event(&ev),
                None => terminal_events = None,
            },
        }
    };
    log::info!("{signal}: shutting down");
    drop(terminal);
    let clean = tokio::time::timeout(SHUTDOWN_GRACE, relay.shutdown())
        .await
        .is_ok();
    // The disconnections caused by the shutdown itself, for a complete record.
    loop {
        match events.try_recv() {
            Ok(ev) => log_relay_event(&ev),
            Err(TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    if clean {
        log::info!("relay stopped");
        0
    } else {
        log::warn!(
            "relay stopped with connections still closing after {} s",
            SHUTDOWN_GRACE.as_secs()
        );
        1
    }
}

/// One plain sentence per bind failure, naming the flag that fixes it.
fn bind_error(e: &std::io::Error, addr: SocketAddr) -> String {
    let port = addr.port();
    match e.kind() {
        ErrorKind::AddrInUse => {
            format!("port {port} is already in use; choose another with --port <N>")
        }
        ErrorKind::PermissionDenied => format!(
            "not allowed to listen on port {port}{}; choose another with --port <N>",
            if port < 1024 {
                " (ports below 1024 need administrator rights)"
            } else {
                ""
            }
        ),
        ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine; choose another with --host <ADDR>",
            addr.ip()
        ),
        _ => format!("cannot listen on {addr}: {e}"),
    }
}

/// Adds the local terminal, logs any doubt about the address, prints the QR block.
fn start_local_terminal(
    relay: &RelayHandle,
    public_url: Option<&str>,
) -> (dglab_core::Terminal, TerminalEvents) {
    let (terminal, events) = relay.local_terminal();
    let choice = pairing::choose_here(public_url, relay.local_addr());
    if let Some(w) = &choice.warning {
        log::warn!("{w}");
    }
    let url = terminal.pairing_url(&choice.base);
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (piped into `head`) must not stop the relay.
    let _ = stdout.write_all(pairing::block(&choice, &url).as_bytes());
    let _ = stdout.flush();
    (terminal, events)
}

/// The next local-terminal event, or never when there is no (longer a) terminal.
async fn next_terminal_event(events: &mut Option<&mut TerminalEvents>) -> Option<TerminalEvent> {
    match events {
        Some(ev) => ev.recv().await,
        None => std::future::pending().await,
    }
}

fn log_relay_event(ev: &relay::RelayEvent) {
    // Relayed frames are the bulk of the traffic: skip even the formatting unless shown.
    if matches!(ev, relay::RelayEvent::Relayed { .. }) && !crate::logger::debug_enabled() {
        return;
    }
    let (level, line) = report::relay_event(ev);
    log::log!(level, "{line}");
}

fn log_terminal_event(ev: &TerminalEvent) {
    if let Some((level, line)) = report::terminal_event(ev) {
        log::log!(level, "{line}");
    }
}

/// The signals that end the relay: Ctrl-C everywhere, SIGTERM too on unix (systemd,
/// Docker, `kill`). Created up front so a signal arriving early is not lost.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(windows)]
        {
            Ok(Signals {
                ctrl_c: tokio::signal::windows::ctrl_c()?,
            })
        }
    }

    /// Waits for the next signal and names it for the log.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "Ctrl-C",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(windows)]
        {
            self.ctrl_c.recv().await;
            "Ctrl-C"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_errors_are_one_line_naming_the_flag() {
        let addr: SocketAddr = "0.0.0.0:9999".parse().unwrap();
        let e = std::io::Error::from(ErrorKind::AddrInUse);
        assert_eq!(
            bind_error(&e, addr),
            "port 9999 is already in use; choose another with --port <N>"
        );
        let e = std::io::Error::from(ErrorKind::PermissionDenied);
        let low: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert_eq!(
            bind_error(&e, low),
            "not allowed to listen on port 80 (ports below 1024 need administrator rights); choose another with --port <N>"
        );
        let e = std::io::Error::from(ErrorKind::AddrNotAvailable);
        let far: SocketAddr = "10.9.9.9:9999".parse().unwrap();
        assert!(bind_error(&e, far).contains("--host"));
    }
}
