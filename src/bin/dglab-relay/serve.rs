//! `dglab-relay serve`: bind, start the relay, log its events (and the local terminal's)
//! until Ctrl-C or SIGTERM, then shut down cleanly.
//!
//! The local terminal is guarded ([`SafetyHub::guard`], caps and rise rate from the
//! flags, no watchdog) and the hub keeps its only handle. On Ctrl-C/SIGTERM the
//! emergency stop runs before the relay closes, so a paired App is left at 0 with both
//! waveform queues empty rather than at whatever level it had.
//!
//! Bind failures are the common mistake (a second copy running, a port below 1024), so
//! each gets one plain line on stderr and exit code 2 instead of a backtrace-like chain.

use crate::args::ServeArgs;
use crate::{pairing, report};
use dglab_core::relay::{self, RelayConfig, RelayHandle};
use dglab_core::safety::{GuardedEvents, GuardedTerminal, SafetyEvent, SafetyHub};
use dglab_core::{Terminal, TerminalEvent};
use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

/// How long shutdown may take before we give up on stuck peers and exit anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the relay until a shutdown signal; returns the process exit code.
pub fn run(args: ServeArgs) -> i32 {
    // A worker per core. One worker or a current-thread runtime measured no less CPU per
    // relayed message (benches/relay_load.rs, README "Benchmarks"), and would cap the
    // relay at one core: 10,000 pairs at 10 msg/s need more than that.
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
    let listeners = match bind_all(&args.hosts, args.port) {
        Ok(l) => l,
        Err(line) => {
            eprintln!("error: {line}");
            return 2;
        }
    };
    let v4_listeners = match crate::v4::bind(&args.hosts, &args.v4) {
        Ok(l) => l,
        Err(line) => {
            eprintln!("error: {line}");
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
        max_connections: args.max_connections,
        reserved_connections: RelayConfig::server()
            .reserved_connections
            .min(args.max_connections / 4),
        max_per_address: args.max_per_address,
        max_per_lan_address: args.max_per_lan_address,
        ..RelayConfig::server()
    };
    let v4_limits = config.clone();
    let relay = match relay::start_many(listeners, config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the relay: {e}");
            return 1;
        }
    };
    let mut events = relay.subscribe();
    // Relayed messages are logged only at debug: below that, asking for them would cost
    // each message an event and a wake-up of this thread (about half the relay's CPU).
    relay.set_relayed_events(crate::logger::debug_enabled());
    let heartbeat = match args.heartbeat {
        Some(d) => format!("heartbeat every {} s", d.as_secs()),
        None => "heartbeat off".to_owned(),
    };
    let limits = format!(
        "A {}, B {}, rising at most {}/s",
        args.safety.cap_a, args.safety.cap_b, args.safety.max_rise_per_sec
    );
    let safety = match (args.relay_policy, args.local_terminal) {
        (true, _) => format!("; every App capped at {limits}, and stopped on exit"),
        (false, true) => format!("; local terminal capped at {limits}"),
        (false, false) => String::new(),
    };
    let addrs: Vec<String> = relay.local_addrs().iter().map(|a| a.to_string()).collect();
    log::info!(
        "dglab-relay {} listening on {} ({heartbeat}{safety}; at most {} connections)",
        env!("CARGO_PKG_VERSION"),
        addrs.join(", "),
        args.max_connections
    );
    // One hub for the local terminal's gate and, with a safety flag, for every App.
    let hub = if args.local_terminal || args.relay_policy {
        match SafetyHub::new(args.safety.clone()) {
            Ok(h) => Some(h),
            Err(e) => {
                eprintln!("error: safety settings: {e}");
                relay.shutdown().await;
                return 1;
            }
        }
    } else {
        None
    };
    if let Some(hub) = &hub {
        if args.relay_policy {
            hub.guard_relay(&relay);
        }
        stop_on_panic(hub.clone());
    }
    // The V4 relay starts with the hub's policy already on it (with a safety flag), so no
    // 4.x App is ever reachable uncapped.
    let v4_policy = hub.as_ref().filter(|_| args.relay_policy);
    let v4 = match crate::v4::start(
        v4_listeners,
        &args.v4,
        &v4_limits,
        args.local_terminal,
        v4_policy,
    ) {
        Ok(v4) => v4,
        Err(e) => {
            eprintln!("error: cannot start the V4 relay: {e}");
            relay.shutdown().await;
            return 1;
        }
    };
    let mut safety_events = hub.as_ref().map(SafetyHub::subscribe);
    let (terminal, mut terminal_events) = match (&hub, args.local_terminal) {
        (Some(hub), true) => {
            let (t, e) = start_local_terminal(&relay, args.public_url.as_deref(), hub);
            (Some(t), Some(e))
        }
        _ => (None, None),
    };
    // The game API (gamehub.rs) drives the local terminal's App through its gate.
    let game_api = match (&hub, &terminal, &args.game_api) {
        (Some(hub), Some(t), Some(api)) => match crate::gamehub::start(api, hub, t).await {
            Ok(g) => g,
            Err(code) => {
                relay.shutdown().await;
                return code;
            }
        },
        _ => None,
    };

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
            ev = next_safety_event(&mut safety_events) => match ev {
                Ok(ev) => log_safety_event(&ev),
                Err(RecvError::Lagged(n)) => log::warn!("the log fell behind; {n} safety events not shown"),
                Err(RecvError::Closed) => safety_events = None,
            },
        }
    };
    log::info!("{signal}: shutting down");
    if let Some(hub) = &hub {
        // First, while every socket is still open: the App goes to 0 on both channels and
        // both queues are cleared (and the latch refuses anything after).
        // The relay's shutdown writes what is queued before closing each socket.
        hub.emergency_stop();
        if let Some(rx) = &mut safety_events {
            drain_safety_events(rx);
        }
    }
    if let Some(api) = game_api {
        api.shutdown().await;
    }
    drop(terminal);
    drop(hub);
    let v4_clean = crate::v4::stop(v4, SHUTDOWN_GRACE).await;
    let clean = tokio::time::timeout(SHUTDOWN_GRACE, relay.shutdown())
        .await
        .is_ok()
        && v4_clean;
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

/// Adds the local terminal behind `hub`'s gate, logs any doubt about the address, prints
/// the pairing block (QR code and URL) on stdout.
fn start_local_terminal(
    relay: &RelayHandle,
    public_url: Option<&str>,
    hub: &SafetyHub,
) -> (GuardedTerminal, GuardedEvents) {
    let (raw, raw_events) = Terminal::local(relay);
    // The hub gets the only handle: a clone kept here would bypass the gate.
    let (terminal, events) = hub.guard(raw, raw_events);
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

/// Binds one listener per host on `port` (a `port` of 0: the first picks, the others
/// follow it). IPv6 listeners are IPv6-only, so `::` and `0.0.0.0` can share a port.
fn bind_all(hosts: &[std::net::IpAddr], port: u16) -> Result<Vec<TcpListener>, String> {
    let mut out = vec![];
    let mut port = port;
    for host in hosts {
        let wanted = SocketAddr::new(*host, port);
        let listener = bind_one(wanted).map_err(|e| bind_error(&e, wanted))?;
        if port == 0 {
            port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        }
        out.push(listener);
    }
    Ok(out)
}

pub(crate) fn bind_one(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // As std's listener does on unix: a restarted relay can take its port straight back.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// The next local-terminal event, or never when there is no (longer a) terminal.
async fn next_terminal_event(events: &mut Option<GuardedEvents>) -> Option<TerminalEvent> {
    match events {
        Some(ev) => ev.recv().await,
        None => std::future::pending().await,
    }
}

/// The next safety event, or never when there is no local terminal.
async fn next_safety_event(
    events: &mut Option<broadcast::Receiver<SafetyEvent>>,
) -> Result<SafetyEvent, RecvError> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Logs every safety event already published (the emergency stop's, at shutdown).
fn drain_safety_events(rx: &mut broadcast::Receiver<SafetyEvent>) {
    loop {
        match rx.try_recv() {
            Ok(ev) => log_safety_event(&ev),
            Err(TryRecvError::Lagged(n)) => {
                log::warn!("the log fell behind; {n} safety events not shown");
            }
            Err(_) => return,
        }
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

fn log_safety_event(ev: &SafetyEvent) {
    let (level, line) = report::safety_event(ev);
    log::log!(level, "{line}");
}

fn log_terminal_event(ev: &TerminalEvent) {
    if let Some((level, line)) = report::terminal_event(ev) {
        log::log!(level, "{line}");
    }
}

/// Makes any panic, in any thread, run the emergency stop first: whatever failed, the App
/// goes to 0 with empty queues and the latch holds. The stop only queues frames, so the
/// panicking thread then waits a moment for the socket writers (on other threads) to send
/// them before the default hook runs and, for the main thread, the process ends.
fn stop_on_panic(hub: SafetyHub) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let report = hub.emergency_stop();
        eprintln!(
            "panic: emergency stop sent to {} App(s) before anything else",
            report.apps
        );
        std::thread::sleep(PANIC_FLUSH);
        previous(info);
    }));
}

/// How long a panicking thread waits for the stop's frames to be written.
const PANIC_FLUSH: Duration = Duration::from_millis(250);

/// The signals that end the relay: Ctrl-C everywhere, SIGTERM and SIGHUP too on unix
/// (systemd, Docker, `kill`, a closed SSH session). Created up front so a signal arriving early is not lost.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    /// The terminal closing (an SSH session ending) must stop the App too, not kill us.
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
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
                hangup: signal(SignalKind::hangup())?,
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
                _ = self.hangup.recv() => "SIGHUP",
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
    use dglab_core::safety::SafetyConfig;

    #[test]
    fn a_panic_in_any_thread_latches_the_stop_first() {
        let hub = SafetyHub::new(SafetyConfig {
            watchdog: None,
            ..SafetyConfig::default()
        })
        .unwrap();
        stop_on_panic(hub.clone());
        let crashed = std::thread::spawn(|| panic!("a bug somewhere")).join();
        assert!(crashed.is_err());
        assert!(hub.is_latched(), "the panic did not run the emergency stop");
        // Leave no hook behind for the other tests of this binary.
        let _ = std::panic::take_hook();
    }

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
