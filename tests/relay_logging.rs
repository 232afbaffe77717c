//! Issue 11, point 3: a log output that never drains must not stall the relay. Its own
//! test binary, since it installs a process-wide logger that blocks forever.

mod common;

use common::{pair, start_relay_with};
use dglab_core::relay::RelayConfig;
use log::{LevelFilter, Log, Metadata, Record};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// A logger whose output is stuck: every line of ours blocks for good (as a write to a
/// full pipe that nobody reads would). Like `dglab-relay`'s logger, it passes on other
/// crates' debug chatter (tungstenite's) before formatting it.
struct StuckLogger {
    calls: AtomicUsize,
}

impl Log for StuckLogger {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        meta.target().starts_with("dglab") || meta.level() <= log::Level::Info
    }
    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        loop {
            std::thread::park();
        }
    }
    fn flush(&self) {}
}

static LOGGER: StuckLogger = StuckLogger {
    calls: AtomicUsize::new(0),
};

async fn tcp_from(addr: std::net::SocketAddr, from: &str) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    sock.connect(addr).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_output_that_never_drains_does_not_stall_the_relay() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(LevelFilter::Trace);
    let relay = start_relay_with(RelayConfig {
        heartbeat_interval: None,
        ping_interval: None,
        max_per_loopback_address: 2,
        ..RelayConfig::default()
    })
    .await;
    let addr = relay.local_addr();
    // Everything that logs: refusals (one host over its limit), failed handshakes, frames
    // too large, again and again, more than two worker threads could block on.
    let _holders = [
        tcp_from(addr, "127.0.0.2").await,
        tcp_from(addr, "127.0.0.2").await,
    ];
    for _ in 0..50 {
        let _refused = tcp_from(addr, "127.0.0.2").await;
        let mut garbage = tcp_from(addr, "127.0.0.3").await;
        let _ = garbage.write_all(b"nonsense\r\n\r\n").await;
    }
    // The relay still pairs and relays, promptly.
    let ok = tokio::time::timeout(Duration::from_secs(5), async {
        let (mut term, mut app) = pair(&relay).await;
        let (t, a) = (term.id.clone(), app.id.clone());
        for i in 0..100 {
            term.msg(&t, &a, &format!("n-{i}")).await;
            assert_eq!(app.recv().await["message"], format!("n-{i}"));
        }
    })
    .await;
    assert!(ok.is_ok(), "the relay stalled behind its log");
    assert!(
        LOGGER.calls.load(Ordering::SeqCst) >= 1,
        "something was logged"
    );
    tokio::time::timeout(Duration::from_secs(3), relay.shutdown())
        .await
        .expect("shutdown stalled behind the log");
}
