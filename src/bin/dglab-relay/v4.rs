//! `serve`'s V4 relay (DG-LAB App 4.x): its flags, binding its port, starting it beside
//! the SOCKET v2 relay, logging its events, and stopping it. Kept here so `args.rs` and
//! `serve.rs` only call in.
//!
//! The V4 port defaults to 9998, the official relay's. When that default is taken (a
//! second `dglab-relay`, the official relay) the SOCKET v2 relay still runs and a warning
//! says V4 is off and how to move it; a port given with `--v4-port` that is taken is an
//! error, like `--port`.

use clap::Args;
use dglab_core::relay::v4::{self, V4Config, V4Event, V4Handle};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;

/// The official relay's port.
pub const DEFAULT_PORT: u16 = 9998;

/// Longest timer a flag may set, one day (the relay adds it to `Instant::now()`).
const MAX_SECS: u64 = 86_400;

/// `serve`'s V4 flags, flattened into its own.
#[derive(Debug, Args)]
pub struct V4Flags {
    /// TCP port of the V4 relay for the DG-LAB App 4.x
    /// (paths /, /v4, /v4/), 0 turns it off
    #[arg(long, value_name = "N", allow_negative_numbers = true, default_value_t = DEFAULT_PORT,
          verbatim_doc_comment)]
    pub v4_port: u16,
    /// Seconds between V4 heartbeat frames (at most
    /// 86400), 0 turns them off
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, default_value_t = 30,
          value_parser = parse_secs, verbatim_doc_comment)]
    pub v4_heartbeat: u64,
    /// Seconds a V4 controller may stay with no App before
    /// it is closed (4002 idle_timeout), 0 never
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, default_value_t = 300,
          value_parser = parse_secs, verbatim_doc_comment)]
    pub v4_idle_timeout: u64,
}

/// The V4 settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Args {
    /// The port; `None` when `--v4-port 0` turned V4 off.
    pub port: Option<u16>,
    /// The port was given on the command line (a taken port is then an error).
    pub port_given: bool,
    /// Heartbeat interval; `None` when off.
    pub heartbeat: Option<Duration>,
    /// Idle timeout of a controller without Apps; `None` when off.
    pub idle_timeout: Option<Duration>,
}

impl Default for V4Args {
    fn default() -> Self {
        V4Args {
            port: Some(DEFAULT_PORT),
            port_given: false,
            heartbeat: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(300)),
        }
    }
}

impl V4Flags {
    /// Checked settings; `port_given` from clap's value source.
    pub fn resolve(&self, port_given: bool) -> V4Args {
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        V4Args {
            port: (self.v4_port > 0).then_some(self.v4_port),
            port_given,
            heartbeat: secs(self.v4_heartbeat),
            idle_timeout: secs(self.v4_idle_timeout),
        }
    }
}

fn parse_secs(v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .ok()
        .filter(|s| *s <= MAX_SECS)
        .ok_or_else(|| format!("expected whole seconds 0..={MAX_SECS} (0 turns it off)"))
}

/// The V4 listeners, one per host, before anything is printed: `Err` is the line for
/// stderr (exit 2), as for the SOCKET v2 port. An empty list: V4 is off (by the flag, or
/// because its default port is taken, which is logged).
pub fn bind(hosts: &[IpAddr], args: &V4Args) -> Result<Vec<TcpListener>, String> {
    let Some(port) = args.port else {
        return Ok(vec![]);
    };
    let mut out = vec![];
    for host in hosts {
        let addr = SocketAddr::new(*host, port);
        match crate::serve::bind_one(addr) {
            Ok(l) => out.push(l),
            Err(e) if e.kind() == ErrorKind::AddrInUse && !args.port_given => {
                log::warn!(
                    "V4 relay (DG-LAB App 4.x) off: its port {port} is already in use; \
                     choose another with --v4-port <N>, or 0 to keep it off"
                );
                return Ok(vec![]);
            }
            Err(e) => return Err(bind_error(&e, addr)),
        }
    }
    Ok(out)
}

/// One plain sentence per bind failure, naming the flag that fixes it.
fn bind_error(e: &std::io::Error, addr: SocketAddr) -> String {
    let port = addr.port();
    let fix = "choose another with --v4-port <N>, or 0 to turn the V4 relay off";
    match e.kind() {
        ErrorKind::AddrInUse => format!("V4 port {port} is already in use; {fix}"),
        ErrorKind::PermissionDenied => format!(
            "not allowed to listen on V4 port {port}{}; {fix}",
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
        _ => format!("cannot listen on {addr} for the V4 relay: {e}"),
    }
}

/// A running V4 relay, the task logging its events, and the local controller offered
/// with `--local-terminal`.
pub struct Running {
    pub relay: V4Handle,
    logger: tokio::task::JoinHandle<()>,
    local: Option<(v4::V4LocalLink, tokio::task::JoinHandle<()>)>,
}

/// Starts the V4 relay on `listeners` (nothing when empty) with the connection limits of
/// the SOCKET v2 relay, logs one startup line and then its events. With `local_controller`
/// (`--local-terminal`) it also joins an in-process controller and prints its pairing
/// link as a QR code.
pub fn start(
    listeners: Vec<TcpListener>,
    args: &V4Args,
    limits: &dglab_core::relay::RelayConfig,
    local_controller: bool,
    policy: Option<&dglab_core::safety::SafetyHub>,
) -> Result<Option<Running>, std::io::Error> {
    if listeners.is_empty() {
        return Ok(None);
    }
    let config = V4Config {
        heartbeat_interval: args.heartbeat,
        idle_timeout: args.idle_timeout,
        limits: dglab_core::relay::RelayConfig {
            max_message_size: v4::MAX_FRAME,
            raise_fd_limit: false,
            ..limits.clone()
        },
        ..V4Config::server()
    };
    let relay = v4::start_many(listeners, config)?;
    if let Some(hub) = policy {
        // Before any App can connect: the caps, the rise rate and STOP bind every 4.x App.
        hub.guard_v4(&relay);
    }
    // Before the startup line: whoever waits for that line may connect at once.
    let mut rx = relay.subscribe();
    // Payloads are logged at debug only; below that, asking for them would cost a copy each.
    relay.set_relayed_events(crate::logger::debug_enabled());
    let addrs: Vec<String> = relay.local_addrs().iter().map(|a| a.to_string()).collect();
    let secs = |d: Option<Duration>| d.map_or("off".to_owned(), |d| format!("{} s", d.as_secs()));
    let capped = if policy.is_some() {
        "; every App capped, and stopped on exit"
    } else {
        ""
    };
    log::info!(
        "V4 relay (DG-LAB App 4.x) on {} at /, /v4 (heartbeat {}, idle timeout {}{capped})",
        addrs.join(", "),
        secs(args.heartbeat),
        secs(args.idle_timeout)
    );
    let logger = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(ev) => log_event(&ev),
                Err(RecvError::Lagged(n)) => {
                    log::warn!("the log fell behind; {n} V4 events not shown")
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    let local = local_controller.then(|| offer_controller(&relay));
    Ok(Some(Running {
        relay,
        logger,
        local,
    }))
}

/// Closes every V4 socket (close 1001) within `grace`; whether it finished in time.
pub async fn stop(running: Option<Running>, grace: Duration) -> bool {
    let Some(running) = running else {
        return true;
    };
    if let Some((link, task)) = running.local {
        // Its Apps get controller_disconnected and 4000, as from any controller.
        drop(link);
        task.abort();
    }
    let clean = tokio::time::timeout(grace, running.relay.shutdown())
        .await
        .is_ok();
    // Let the closes of the shutdown itself reach the log, then stop the logger.
    tokio::task::yield_now().await;
    running.logger.abort();
    clean
}

/// Joins an in-process controller, prints its link (QR code and text) on stdout and logs
/// what its Apps send. It sends nothing itself: driving V4 Apps (with the safety gate)
/// is the V4 controller's job, still to come; this lets a 4.x App pair and be seen.
fn offer_controller(relay: &V4Handle) -> (v4::V4LocalLink, tokio::task::JoinHandle<()>) {
    use std::io::Write;
    let (link, mut inbox) = relay.join_local();
    let choice = crate::pairing::choose_here(None, relay.local_addr());
    let link_text = dglab_core::pairing::v4_pairing_link(&choice.base, link.id());
    let mut out = String::from(
        "\nDG-LAB App 4.x: scan with the App (V4 socket control) to pair with this relay's V4 \
         controller\n(it pairs and logs the App's devices and buttons; it sends no commands):\n\n",
    );
    match crate::pairing::qr_text(&link_text) {
        Ok(qr) => out.push_str(&qr),
        Err(e) => out.push_str(&format!("(no QR code: {e})\n")),
    }
    out.push_str(&format!("\nV4 link:     {link_text}\n"));
    out.push_str(&format!(
        "App socket:  {} ({})\n",
        dglab_core::pairing::v4_socket_url(&choice.base, link.id()),
        choice.source
    ));
    out.push('\n');
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    let id = link.id();
    let task = tokio::spawn(async move {
        while let Some(incoming) = inbox.recv().await {
            if let v4::V4Incoming::Message { app, data } = incoming {
                if let Some(line) = app_payload_line(app, &data) {
                    log::info!("{line}");
                }
            }
        }
        log::info!("V4 local controller {id} is off the relay");
    });
    (link, task)
}

/// What the log says about a payload from an App to the local controller: its devices
/// and its custom-action buttons (A–J); the rest only at debug.
fn app_payload_line(app: v4::V4Id, data: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    match v["ev"].as_str() {
        Some("devices.snapshot") => {
            let devices: Vec<String> = v["devices"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .map(|d| {
                            let s = |k: &str| {
                                dglab_core::relay::escape_for_log(d[k].as_str().unwrap_or("?"), 40)
                            };
                            format!("{} ({}, slot {})", s("name"), s("type"), s("slotId"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(format!(
                "V4 App {app} devices: {}",
                if devices.is_empty() {
                    "none".to_owned()
                } else {
                    devices.join(", ")
                }
            ))
        }
        Some("custom.action") => {
            let letter = v["action"]
                .as_u64()
                .filter(|a| *a <= 9)
                .and_then(|a| char::from_digit(u32::try_from(a).ok()? + 10, 20))
                .map(|c| c.to_ascii_uppercase());
            letter.map(|l| format!("V4 App {app} custom action {l}"))
        }
        _ => {
            if log::log_enabled!(log::Level::Debug) {
                log::debug!(
                    "V4 App {app} sent {}",
                    dglab_core::relay::escape_for_log(data, dglab_core::relay::MAX_TEXT_CHARS)
                );
            }
            None
        }
    }
}

fn log_event(ev: &V4Event) {
    let (level, line) = event_line(ev);
    log::log!(level, "{line}");
}

/// The log line for a V4 event, in the wire's words.
pub fn event_line(ev: &V4Event) -> (log::Level, String) {
    use log::Level::Info;
    match ev {
        V4Event::Connected { id, role, remote } => {
            let from = remote.map(|r| format!(" from {r}")).unwrap_or_default();
            (
                Info,
                format!("V4 {} {id} connected{from}", role_word(*role)),
            )
        }
        V4Event::Attached { app, controller } => (
            Info,
            format!("V4 App {app} attached to controller {controller}"),
        ),
        V4Event::Detached { app, controller } => (
            Info,
            format!("V4 App {app} detached from controller {controller}"),
        ),
        V4Event::Relayed { from, to, data } => (
            log::Level::Debug,
            format!("V4 message {from} -> {to}: {data}"),
        ),
        V4Event::ErrorsNotShown { id, count } => (
            Info,
            format!("V4: {count} more error frame(s) sent to {id} not logged one by one (at most 5 a minute)"),
        ),
        V4Event::Error { id, code } => (Info, format!("V4 error {code} sent to {id}")),
        V4Event::Closed { id, role, reason } => (
            Info,
            format!("V4 {} {id} left ({reason})", role_word(*role)),
        ),
    }
}

fn role_word(role: v4::V4Role) -> &'static str {
    match role {
        v4::V4Role::Controller => "controller",
        v4::V4Role::LocalController => "local controller",
        v4::V4Role::App => "App",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dglab_core::relay::v4::{V4Id, V4Role};

    #[test]
    fn flags_resolve_zero_as_off() {
        let f = V4Flags {
            v4_port: 0,
            v4_heartbeat: 0,
            v4_idle_timeout: 5,
        };
        assert_eq!(
            f.resolve(true),
            V4Args {
                port: None,
                port_given: true,
                heartbeat: None,
                idle_timeout: Some(Duration::from_secs(5)),
            }
        );
        assert!(parse_secs("86401").is_err());
        assert!(parse_secs("-1").is_err());
    }

    #[test]
    fn a_taken_port_names_the_flag() {
        let e = std::io::Error::from(ErrorKind::AddrInUse);
        assert_eq!(
            bind_error(&e, "0.0.0.0:9998".parse().unwrap()),
            "V4 port 9998 is already in use; choose another with --v4-port <N>, or 0 to turn the V4 relay off"
        );
    }

    #[test]
    fn a_taken_default_port_turns_v4_off_and_a_given_one_is_an_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let hosts = [IpAddr::from([127, 0, 0, 1])];
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let defaulted = V4Args {
            port: Some(port),
            ..V4Args::default()
        };
        assert!(bind(&hosts, &defaulted).unwrap().is_empty());
        let given = V4Args {
            port_given: true,
            ..defaulted
        };
        assert!(bind(&hosts, &given).unwrap_err().contains("--v4-port"));
    }

    #[test]
    fn app_payloads_logged_are_devices_and_buttons() {
        let app = V4Id(1);
        assert_eq!(
            app_payload_line(app, r#"{"t":"ev","ev":"custom.action","action":0}"#).as_deref(),
            Some("V4 App 00000001 custom action A")
        );
        assert_eq!(
            app_payload_line(app, r#"{"t":"ev","ev":"custom.action","action":9}"#).as_deref(),
            Some("V4 App 00000001 custom action J")
        );
        assert_eq!(
            app_payload_line(app, r#"{"t":"ev","ev":"custom.action","action":10}"#),
            None
        );
        assert_eq!(
            app_payload_line(
                app,
                r#"{"t":"ev","ev":"devices.snapshot","devices":[{"slotId":"S\n1","name":"郊狼 3.0","type":"COYOTE_030"}]}"#
            )
            .as_deref(),
            Some("V4 App 00000001 devices: 郊狼 3.0 (COYOTE_030, slot S\\n1)")
        );
    }

    #[test]
    fn events_read_in_the_wire_s_words() {
        let (a, c) = (V4Id(0xb71e_02d4), V4Id(0x3f9a_1c07));
        assert_eq!(
            event_line(&V4Event::Attached {
                app: a,
                controller: c
            })
            .1,
            "V4 App b71e02d4 attached to controller 3f9a1c07"
        );
        assert_eq!(
            event_line(&V4Event::Closed {
                id: c,
                role: V4Role::Controller,
                reason: "idle_timeout"
            })
            .1,
            "V4 controller 3f9a1c07 left (idle_timeout)"
        );
    }
}
