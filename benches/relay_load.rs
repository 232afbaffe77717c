//! Load generator: our relay against PyDGLab-WS's `DGLabWSServer` and (optionally) the
//! vendor's Node.js relay, each in its own process.
//!
//! Run: `cargo bench --bench relay_load` (needs `scripts/python-env.sh` for the PyDGLab
//! rows).
//!
//! The vendor's relay (`socket/BackEnd(Node)/websocketNode.js` in DG-LAB-OPENSOURCE) is not
//! in this repository: it is someone else's code. Its rows are run only when
//! `RELAY_LOAD_VENDOR_JS=/path/to/websocketNode.js` is set, and skipped with a note
//! otherwise. The file must listen on the port in the `PORT` environment variable (the
//! upstream file has `port: 9999` hard-coded: change that one line to
//! `{ port: Number(process.env.PORT), host: '127.0.0.1' }`), and its folder must hold
//! `node_modules` with `ws` and `uuid` (`npm install ws uuid@9`). It is run as
//! `node websocketNode.js` in its own folder, stdout (it logs every message) to /dev/null.
//! Its protocol is SOCKET v2 with one difference the load generator follows: a terminal's
//! message to its App goes as `"type":4` (the vendor forwards a `"type":"msg"` back to the
//! `clientId`, i.e. to the terminal itself); the App→terminal direction is `"type":"msg"`
//! for every server. The servers run as child processes so that their CPU time and RSS can be read from
//! `/proc/<pid>/stat` and `/proc/<pid>/status` without the load generator's own cost mixed
//! in: ours is this very binary re-run with `--serve-ours PORTFILE`, PyDGLab-WS is
//! `benches/support/pydglab_server.py`. Every scenario gets a fresh server process.
//!
//! Scenarios (clients are tokio-tungstenite sockets in this process; every pair is a
//! terminal socket plus an App socket that connected to `/<terminal id>` and bound):
//! - throughput: 100 pairs, 8 messages in flight per pair (4 terminal→App, 4 App→terminal),
//!   closed loop for a fixed window after a warm-up;
//! - latency: 1,000 pairs, each terminal sending 10 msg/s (paced, phases spread evenly);
//! - memory: 10,000 idle sockets (5,000 bound pairs) → (RSS after − RSS before) / sockets.
//!
//! Latency is one-way, send → receive, both ends in this process (one clock). The relay keeps
//! each direction of a pair in order, so the receiver matches a message to its send time by
//! popping a per-direction FIFO, and no timestamp has to ride inside the message: payloads
//! are the real commands (`strength-…`, `pulse-…`) and the same bytes go to both servers.
//!
//! PyDGLab-WS gets the same scenarios; its setup phases are capped in time, and where it
//! cannot finish one the table reports what it managed.
//!
//! The memory scenario needs ~10,100 file descriptors in this process (and as many in the
//! server, which inherits the limit). If `ulimit -n` is lower, the socket count is reduced
//! and the table says so; run as `bash -c 'ulimit -n 65536; cargo bench --bench relay_load'`.
//!
//! Knobs for quick runs (defaults are the reported configuration): `RELAY_LOAD_SECS`
//! (measured window, default 5), `RELAY_LOAD_SERVERS` (comma-separated subset of `ours,pydglab,vendor`; default all three,
//! vendor only with `RELAY_LOAD_VENDOR_JS`),
//! `RELAY_LOAD_SCENARIOS` (comma-separated subset of `throughput,latency,memory`),
//! `RELAY_LOAD_IDLE_SOCKETS` (memory scenario size), and for profiling only
//! `RELAY_LOAD_SERVER_WRAPPER` (a command our server is run under, e.g. `valgrind
//! --tool=massif`), `RELAY_LOAD_READ_BUFFER` (our server's `read_buffer_size`) and
//! `RELAY_LOAD_SERVER_THREADS` (our server's tokio worker threads; default one per core,
//! as `dglab-relay serve` has; `current` for a current-thread runtime).
//!
//! `RELAY_LOAD_OURS_BIN=/path/to/dglab-relay` replaces our in-process server with the real
//! binary, run as `dglab-relay serve --host 127.0.0.1 --port P --heartbeat 0
//! --max-connections 12000` (WebSocket pings stay on, as `serve` has them): this is how the
//! README's "5,000 idle pairs under `serve`" figure is taken, with
//! `RELAY_LOAD_SCENARIOS=memory`.

use dglab_core::relay::{self, RelayConfig};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const THROUGHPUT_PAIRS: usize = 100;
/// Per direction; 4 + 4 = 8 in flight per pair.
const WINDOW_PER_DIRECTION: usize = 4;
const LATENCY_PAIRS: usize = 1_000;
const LATENCY_RATE_HZ: u64 = 10;
const IDLE_SOCKETS: usize = 10_000;
const WARM_UP: Duration = Duration::from_secs(1);
/// Setup of one scenario may take this long before the run goes on with what it has:
/// PyDGLab-WS accepts connections slowly, and the whole bench should take minutes.
const SETUP_CAP: Duration = Duration::from_secs(60);
/// Every single network step (connect, greeting, bind answer) is bounded by this.
const STEP: Duration = Duration::from_secs(10);
/// Sockets being opened at once: stays well under both servers' listen backlogs
/// (Python's asyncio default is 100).
const OPEN_CONCURRENCY: usize = 48;

// ---- the servers ----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ours,
    PyDglab,
    Vendor,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Ours => "dglab-core relay",
            Kind::PyDglab => "PyDGLab-WS 1.1.0",
            Kind::Vendor => "vendor Node relay",
        }
    }

    /// The `type` a terminal's message to its App is sent with (see the module docs).
    fn terminal_type(self) -> &'static str {
        match self {
            Kind::Vendor => "4",
            _ => "\"msg\"",
        }
    }
}

/// A free port on 127.0.0.1 for a server that cannot report the one it took.
fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Waits until `port` accepts a connection; kills `child` if it never does.
fn wait_listening(child: &mut Child, port: u16, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + STEP;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what} did not listen on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// A server child process; killed (by its own pid) when dropped.
struct Server {
    child: Child,
    /// Held open: the child exits when it sees EOF, so it cannot outlive a crashed bench.
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

impl Server {
    fn spawn(kind: Kind) -> Result<Server, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        match kind {
            Kind::Ours if std::env::var_os("RELAY_LOAD_OURS_BIN").is_some() => {
                let bin = std::env::var_os("RELAY_LOAD_OURS_BIN").expect("checked");
                let port = free_port()?;
                let mut child = Command::new(&bin)
                    .args(["serve", "--host", "127.0.0.1", "--heartbeat", "0"])
                    .args(["--max-connections", "12000", "--port", &port.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| format!("spawn {}: {e}", Path::new(&bin).display()))?;
                wait_listening(&mut child, port, "dglab-relay serve")?;
                Ok(Server {
                    child,
                    stdin: None,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                })
            }
            Kind::Vendor => {
                let Some(js) = std::env::var_os("RELAY_LOAD_VENDOR_JS") else {
                    return Err("RELAY_LOAD_VENDOR_JS not set".into());
                };
                let js = PathBuf::from(js);
                let port = free_port()?;
                let mut child = Command::new("node")
                    .arg(&js)
                    .current_dir(js.parent().unwrap_or(Path::new(".")))
                    .env("PORT", port.to_string())
                    .stdin(Stdio::null())
                    // It logs every message it receives.
                    .stdout(Stdio::null())
                    .spawn()
                    .map_err(|e| format!("spawn node: {e}"))?;
                wait_listening(&mut child, port, "the vendor relay")?;
                Ok(Server {
                    child,
                    stdin: None,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                })
            }
            Kind::Ours => {
                let portfile =
                    std::env::temp_dir().join(format!("relay_load-{}.port", std::process::id()));
                let _ = std::fs::remove_file(&portfile);
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                // A profiler may wrap our server (e.g. "valgrind --tool=massif"); its
                // /proc numbers are then the profiler's, so only use it to profile.
                let wrapper = std::env::var("RELAY_LOAD_SERVER_WRAPPER").unwrap_or_default();
                let mut argv: Vec<std::ffi::OsString> =
                    wrapper.split_whitespace().map(Into::into).collect();
                argv.push(exe.into());
                let mut child = Command::new(&argv[0])
                    .args(&argv[1..])
                    .arg("--serve-ours")
                    .arg(&portfile)
                    .stdin(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("spawn self: {e}"))?;
                let stdin = child.stdin.take().expect("piped");
                let deadline = Instant::now() + STEP * 6;
                let port = loop {
                    if let Ok(s) = std::fs::read_to_string(&portfile) {
                        if let Ok(p) = s.trim().parse::<u16>() {
                            break p;
                        }
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err("our server wrote no port".into());
                    }
                    std::thread::sleep(Duration::from_millis(10));
                };
                let _ = std::fs::remove_file(&portfile);
                Ok(Server {
                    child,
                    stdin: Some(stdin),
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                })
            }
            Kind::PyDglab => {
                let python = root.join(".venv/bin/python");
                if !python.exists() {
                    return Err(format!(
                        "{} missing: run scripts/python-env.sh",
                        python.display()
                    ));
                }
                let mut child = Command::new(python)
                    .arg(root.join("benches/support/pydglab_server.py"))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("spawn python: {e}"))?;
                let stdin = child.stdin.take().expect("piped");
                let stdout = child.stdout.take().expect("piped");
                // Read the port line on a thread so a wedged interpreter cannot hang us.
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let mut line = String::new();
                    let mut r = BufReader::new(stdout);
                    let _ = r.read_line(&mut line);
                    let _ = tx.send(line);
                    // Keep draining so the child can never block on a full pipe.
                    let _ = std::io::copy(&mut r, &mut std::io::sink());
                });
                let line = rx.recv_timeout(STEP).unwrap_or_default();
                let Ok(port) = line.trim().parse::<u16>() else {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("pydglab_server.py printed {line:?}, not a port"));
                };
                Ok(Server {
                    child,
                    stdin: Some(stdin),
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                })
            }
        }
    }

    fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// utime + stime of the server process (all threads), in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Field 2 (comm) may hold spaces; everything after its closing ')' splits cleanly,
        // starting at field 3, so utime (14) and stime (15) are at 11 and 12.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (ticks(11) + ticks(12)) as f64 / clock_ticks_per_second()
    }

    /// Resident set size in bytes.
    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // EOF first, so a server under a profiler exits cleanly and writes its profile;
        // a kill only if it does not. Servers that do not watch stdin are killed at once.
        if self.stdin.take().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of process `pid` ("self" for this one), all threads, in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Field 2 (comm) may hold spaces; everything after its closing ')' splits cleanly,
    // starting at field 3, so utime (14) and stime (15) are at 11 and 12.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / clock_ticks_per_second()
}

/// The 1-minute load average: other work on the machine skews every number here.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn clock_ticks_per_second() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// `--serve-ours PORTFILE`: our relay as a standalone server for the load generator.
fn serve_ours(portfile: &Path) {
    // The reported runs use tokio's default, a worker per core, as `dglab-relay serve`
    // does; a count (or `current`, a current-thread runtime) is for comparison.
    let threads = std::env::var("RELAY_LOAD_SERVER_THREADS").unwrap_or_default();
    let mut rt = if threads == "current" {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if let Ok(n) = threads.parse() {
            b.worker_threads(n);
        }
        b
    };
    let rt = rt.enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // Heartbeat and ping off: PyDGLab-WS runs without heartbeats too, and neither would
        // fire within a scenario anyway. The cap is raised for the 10,000-socket scenario.
        let config = RelayConfig {
            heartbeat_interval: None,
            ping_interval: None,
            max_connections: 20_000,
            // Profiling aid only (see the module docs): the reported runs use the default.
            read_buffer_size: std::env::var("RELAY_LOAD_READ_BUFFER")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(RelayConfig::default().read_buffer_size),
            ..RelayConfig::default()
        };
        let handle = relay::start(listener, config).unwrap();
        // Written whole and renamed, so the parent never reads half a port number.
        let tmp = portfile.with_extension("tmp");
        std::fs::write(&tmp, handle.local_addr().port().to_string()).unwrap();
        std::fs::rename(&tmp, portfile).unwrap();
        // The parent holds our stdin; EOF means it is gone, and so should we be.
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await
        .ok();
    });
    std::process::exit(0);
}

// ---- client side ----------------------------------------------------------------------

fn client_config() -> WebSocketConfig {
    // tungstenite's default 128 KiB read buffer per socket would cost this process ~1.3 GB
    // at 10,000 sockets; frames here are under 2 KB.
    let mut c = WebSocketConfig::default();
    c.read_buffer_size = 4096;
    c
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match tokio::time::timeout(STEP, ws.next()).await {
            Err(_) => return Err("timed out waiting for a frame".into()),
            Ok(None) => return Err("closed".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.to_string()),
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(rename = "clientId", borrow)]
    client_id: Cow<'a, str>,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// Connects and reads the relay's `bind`/`targetId` greeting; returns the handed-out id.
async fn connect(url: &str) -> Result<(Ws, String), String> {
    let (mut ws, _) = tokio::time::timeout(
        STEP,
        tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| format!("connect: {e}"))?;
    let text = next_text(&mut ws).await?;
    let f: Frame = serde_json::from_str(&text).map_err(|e| format!("greeting: {e}"))?;
    if f.kind != "bind" || f.message != "targetId" {
        return Err(format!("unexpected greeting {text}"));
    }
    Ok((ws, f.client_id.into_owned()))
}

struct Pair {
    terminal: Ws,
    app: Ws,
    terminal_id: String,
    app_id: String,
}

/// A terminal connects; an App connects to `/<terminal id>` and binds; both see 200.
async fn open_pair(url: String) -> Result<Pair, String> {
    let (mut terminal, terminal_id) = connect(&url).await?;
    let (mut app, app_id) = connect(&format!("{url}/{terminal_id}")).await?;
    let bind = format!(
        r#"{{"type":"bind","clientId":"{terminal_id}","targetId":"{app_id}","message":"DGLAB"}}"#
    );
    app.send(Message::text(bind))
        .await
        .map_err(|e| e.to_string())?;
    for ws in [&mut app, &mut terminal] {
        let text = next_text(ws).await?;
        let f: Frame = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if f.kind != "bind" || f.message != "200" {
            return Err(format!("bind answered {text}"));
        }
    }
    Ok(Pair {
        terminal,
        app,
        terminal_id,
        app_id,
    })
}

/// Opens up to `n` pairs, `OPEN_CONCURRENCY` at a time, stopping at `SETUP_CAP` or at the
/// first failure (a refused connection means the server is at its limit).
async fn open_pairs(url: &str, n: usize) -> (Vec<Pair>, Option<String>) {
    let deadline = Instant::now() + SETUP_CAP;
    let mut pairs = Vec::with_capacity(n);
    let mut opening = futures_util::stream::iter((0..n).map(|_| open_pair(url.to_owned())))
        .buffer_unordered(OPEN_CONCURRENCY);
    let mut problem = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, opening.next()).await {
            Ok(Some(Ok(p))) => pairs.push(p),
            Ok(Some(Err(e))) => {
                problem = Some(format!("stopped after {} pairs: {e}", pairs.len()));
                break;
            }
            Ok(None) => break,
            Err(_) => {
                problem = Some(format!(
                    "setup capped at {}s with {} of {n} pairs",
                    SETUP_CAP.as_secs(),
                    pairs.len()
                ));
                break;
            }
        }
    }
    (pairs, problem)
}

/// One direction of one pair: send times in order, and (closed loop) the free slots.
#[derive(Clone)]
struct Lane {
    sent: Arc<Mutex<VecDeque<Instant>>>,
    slots: Arc<Semaphore>,
}

impl Lane {
    fn new(window: usize) -> Lane {
        Lane {
            sent: Arc::default(),
            slots: Arc::new(Semaphore::new(window)),
        }
    }
}

/// How a socket sends.
enum Pace {
    /// Closed loop: a message whenever a slot of its lane is free.
    Window,
    /// Open loop: one message every `every`, starting after `phase`.
    Every {
        every: Duration,
        phase: Duration,
    },
    Silent,
}

#[derive(Default)]
struct Stats {
    measuring: AtomicBool,
    received: AtomicU64,
    /// Frames that were not the relayed command (error codes, …) or arrived unmatched.
    unexpected: AtomicU64,
}

/// Builds the n-th message text (the envelope) this socket sends.
type Maker = Box<dyn Fn(u64) -> String + Send>;

/// Drives one socket: sends on `out` as `pace` says, receives on `inc` and records each
/// message's latency while measuring. Returns the latencies in nanoseconds.
async fn pump(
    mut ws: Ws,
    pace: Pace,
    out: Lane,
    inc: Lane,
    make: Maker,
    stats: Arc<Stats>,
    stop: CancellationToken,
) -> Vec<u64> {
    let mut latencies = Vec::new();
    let mut n = 0u64;
    let mut ticker = match pace {
        Pace::Every { every, phase } => {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + phase, every);
            // A late tick is sent late, not made up for in a burst: a real controller
            // paces by the clock too.
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            Some(t)
        }
        _ => None,
    };
    let windowed = matches!(pace, Pace::Window);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    let now = Instant::now();
                    let relayed = serde_json::from_str::<Frame>(&t).is_ok_and(|f| {
                        f.kind == "msg"
                            && (f.message.starts_with("strength-") || f.message.starts_with("pulse-"))
                    });
                    let sent = if relayed { inc.sent.lock().unwrap().pop_front() } else { None };
                    match sent {
                        Some(at) => {
                            if stats.measuring.load(Ordering::Relaxed) {
                                stats.received.fetch_add(1, Ordering::Relaxed);
                                latencies.push(now.duration_since(at).as_nanos() as u64);
                            }
                            inc.slots.add_permits(1);
                        }
                        None => {
                            stats.unexpected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            permit = out.slots.acquire(), if windowed => {
                // Fill every free slot, then one flush: one syscall for a burst.
                let Ok(permit) = permit else { break };
                permit.forget();
                let mut burst = 1;
                while let Ok(p) = out.slots.try_acquire() {
                    p.forget();
                    burst += 1;
                }
                let mut ok = true;
                for _ in 0..burst {
                    out.sent.lock().unwrap().push_back(Instant::now());
                    n += 1;
                    ok &= ws.feed(Message::text(make(n))).await.is_ok();
                }
                if !ok || ws.flush().await.is_err() {
                    break;
                }
            }
            _ = async { ticker.as_mut().unwrap().tick().await }, if ticker.is_some() => {
                out.sent.lock().unwrap().push_back(Instant::now());
                n += 1;
                if ws.send(Message::text(make(n))).await.is_err() {
                    break;
                }
            }
        }
    }
    latencies
}

/// `kind` is the JSON value of `type`, quotes included.
fn envelope(kind: &str, terminal_id: &str, app_id: &str, message: &str) -> String {
    // Commands never need JSON escaping except the quotes inside pulse-…:[…].
    let message = message.replace('"', "\\\"");
    format!(
        r#"{{"type":{kind},"clientId":"{terminal_id}","targetId":"{app_id}","message":"{message}"}}"#
    )
}

/// Terminal→App traffic: alternating strength and 4-frame pulse commands, as a
/// controller sends them.
fn terminal_maker(kind: Kind, tid: String, aid: String) -> Maker {
    Box::new(move |n| {
        let m = if n % 2 == 0 {
            format!("strength-1+2+{}", n % 201)
        } else {
            let b = (n % 101) as u8;
            let f = format!("0a141e28{b:02x}{b:02x}{b:02x}{b:02x}");
            format!(r#"pulse-A:["{f}","{f}","{f}","{f}"]"#)
        };
        envelope(kind.terminal_type(), &tid, &aid, &m)
    })
}

/// App→terminal traffic: strength reports.
fn app_maker(tid: String, aid: String) -> Maker {
    Box::new(move |n| {
        let m = format!("strength-{}+{}+150+150", n % 151, (n / 3) % 151);
        envelope("\"msg\"", &tid, &aid, &m)
    })
}

// ---- scenarios ------------------------------------------------------------------------

#[derive(Default)]
struct Row {
    scenario: String,
    server: &'static str,
    load: String,
    msgs_per_sec: Option<f64>,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    cpu_us_per_msg: Option<f64>,
    rss: Option<u64>,
    rss_per_socket: Option<f64>,
    notes: Vec<String>,
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i] as f64 / 1000.0)
}

/// Runs pumps over `pairs` for warm-up + `window`, measuring only in the window.
async fn run_traffic(
    kind: Kind,
    server: &Server,
    pairs: Vec<Pair>,
    windowed: bool,
    window: Duration,
    row: &mut Row,
) {
    let stats = Arc::new(Stats::default());
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    let n = pairs.len().max(1) as u32;
    for (i, p) in pairs.into_iter().enumerate() {
        let to_app = Lane::new(WINDOW_PER_DIRECTION);
        let to_terminal = Lane::new(WINDOW_PER_DIRECTION);
        let (t_pace, a_pace) = if windowed {
            (Pace::Window, Pace::Window)
        } else {
            let every = Duration::from_nanos(1_000_000_000 / LATENCY_RATE_HZ);
            // Phases spread evenly over one period, so the load is smooth, not bursts.
            (
                Pace::Every {
                    every,
                    phase: every * i as u32 / n,
                },
                Pace::Silent,
            )
        };
        tasks.push(tokio::spawn(pump(
            p.terminal,
            t_pace,
            to_app.clone(),
            to_terminal.clone(),
            terminal_maker(kind, p.terminal_id.clone(), p.app_id.clone()),
            stats.clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(pump(
            p.app,
            a_pace,
            to_terminal,
            to_app,
            app_maker(p.terminal_id, p.app_id),
            stats.clone(),
            stop.clone(),
        )));
    }
    tokio::time::sleep(WARM_UP).await;
    let cpu0 = server.cpu_seconds();
    let own0 = cpu_seconds("self");
    let t0 = Instant::now();
    stats.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(window).await;
    stats.measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu0;
    let own = cpu_seconds("self") - own0;
    let received = stats.received.load(Ordering::Relaxed);
    row.rss = Some(server.rss_bytes());
    stop.cancel();
    let mut lat = Vec::with_capacity(received as usize);
    for t in tasks {
        lat.extend(t.await.unwrap_or_default());
    }
    lat.sort_unstable();
    row.msgs_per_sec = Some(received as f64 / elapsed);
    row.p50_us = percentile(&lat, 0.50);
    row.p99_us = percentile(&lat, 0.99);
    if received > 0 {
        row.cpu_us_per_msg = Some(cpu * 1e6 / received as f64);
    }
    row.notes.push(format!(
        "server CPU {:.0}%, load generator CPU {:.0}% (of one core); loadavg {}",
        cpu / elapsed * 100.0,
        own / elapsed * 100.0,
        loadavg()
    ));
    let unexpected = stats.unexpected.load(Ordering::Relaxed);
    if unexpected > 0 {
        row.notes
            .push(format!("{unexpected} unexpected/unmatched frames"));
    }
}

async fn throughput(kind: Kind, window: Duration) -> Row {
    let mut row = Row {
        scenario: format!(
            "throughput: {THROUGHPUT_PAIRS} pairs × {} in flight, both directions",
            2 * WINDOW_PER_DIRECTION
        ),
        server: kind.label(),
        ..Row::default()
    };
    let server = match Server::spawn(kind) {
        Ok(s) => s,
        Err(e) => {
            row.notes.push(e);
            return row;
        }
    };
    let (pairs, problem) = open_pairs(&server.url(), THROUGHPUT_PAIRS).await;
    row.notes.extend(problem);
    row.load = format!("{} pairs", pairs.len());
    run_traffic(kind, &server, pairs, true, window, &mut row).await;
    row
}

async fn latency(kind: Kind, window: Duration) -> Row {
    let mut row = Row {
        scenario: format!("latency: {LATENCY_PAIRS} pairs × {LATENCY_RATE_HZ} msg/s, terminal→App"),
        server: kind.label(),
        ..Row::default()
    };
    let server = match Server::spawn(kind) {
        Ok(s) => s,
        Err(e) => {
            row.notes.push(e);
            return row;
        }
    };
    let t = Instant::now();
    let (pairs, problem) = open_pairs(&server.url(), LATENCY_PAIRS).await;
    row.notes.extend(problem);
    row.notes
        .push(format!("pairs opened in {:.1}s", t.elapsed().as_secs_f64()));
    row.load = format!(
        "{} pairs, offered {} msg/s",
        pairs.len(),
        pairs.len() as u64 * LATENCY_RATE_HZ
    );
    run_traffic(kind, &server, pairs, false, window, &mut row).await;
    row
}

async fn memory(kind: Kind, sockets: usize) -> Row {
    let mut row = Row {
        scenario: format!(
            "memory: {sockets} idle sockets ({} bound pairs)",
            sockets / 2
        ),
        server: kind.label(),
        ..Row::default()
    };
    let server = match Server::spawn(kind) {
        Ok(s) => s,
        Err(e) => {
            row.notes.push(e);
            return row;
        }
    };
    // Let the server finish starting (Python imports lazily) before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_bytes();
    let t = Instant::now();
    let (pairs, problem) = open_pairs(&server.url(), sockets / 2).await;
    row.notes.extend(problem);
    let open_secs = t.elapsed().as_secs_f64();
    let n = pairs.len() * 2;
    // Every socket keeps reading so the server's WebSocket pings (PyDGLab-WS sends them
    // every 20 s) are answered and nothing is closed under us while we measure.
    let stop = CancellationToken::new();
    let mut drains = Vec::with_capacity(n);
    for p in pairs {
        for mut ws in [p.terminal, p.app] {
            let stop = stop.clone();
            drains.push(tokio::spawn(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = async { while let Some(Ok(_)) = ws.next().await {} } => {}
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = server.rss_bytes();
    stop.cancel();
    for d in drains {
        let _ = d.await;
    }
    row.load = format!("{n} sockets");
    row.rss = Some(after);
    if n > 0 {
        row.rss_per_socket = Some(after.saturating_sub(before) as f64 / n as f64);
    }
    row.notes.push(format!(
        "RSS {:.1} MiB → {:.1} MiB; opened in {open_secs:.1}s",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0
    ));
    row
}

// ---- report ---------------------------------------------------------------------------

fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "—".into())
}

fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str("| Scenario | Server | Load achieved | Relayed msg/s | p50 | p99 | Server CPU / msg | Server RSS | RSS / idle socket | Notes |\n");
    s.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.server,
            r.load,
            fmt_opt(r.msgs_per_sec, |v| format!("{v:.0}")),
            fmt_opt(r.p50_us, |v| format!("{v:.0} µs")),
            fmt_opt(r.p99_us, |v| format!("{v:.0} µs")),
            fmt_opt(r.cpu_us_per_msg, |v| format!("{v:.2} µs")),
            fmt_opt(r.rss.map(|v| v as f64), |v| format!(
                "{:.1} MiB",
                v / 1048576.0
            )),
            fmt_opt(r.rss_per_socket, |v| format!("{:.2} kB", v / 1000.0)),
            r.notes.join("; "),
        );
    }
    s
}

fn targets(rows: &[Row]) -> String {
    let find = |prefix: &str, kind: Kind| {
        rows.iter()
            .find(|r| r.scenario.starts_with(prefix) && r.server == kind.label())
    };
    let verdict = |ok: Option<bool>| match ok {
        Some(true) => "PASS",
        Some(false) => "MISS",
        None => "n/a",
    };
    let mut s = String::from("| Target for our relay | Measured | Verdict |\n|---|---|---|\n");
    let ours_tp = find("throughput", Kind::Ours).and_then(|r| r.msgs_per_sec);
    let py_tp = find("throughput", Kind::PyDglab).and_then(|r| r.msgs_per_sec);
    let ratio = ours_tp.zip(py_tp).map(|(o, p)| o / p);
    let _ = writeln!(
        s,
        "| ≥ 15× PyDGLab-WS throughput (100 pairs × 8 in flight) | {} | {} |",
        fmt_opt(ratio, |v| format!("{v:.1}×")),
        verdict(ratio.map(|v| v >= 15.0))
    );
    let cpu = find("throughput", Kind::Ours).and_then(|r| r.cpu_us_per_msg);
    let _ = writeln!(
        s,
        "| ≤ 3 µs server CPU per relayed message | {} | {} |",
        fmt_opt(cpu, |v| format!("{v:.2} µs")),
        verdict(cpu.map(|v| v <= 3.0))
    );
    let p99 = find("latency", Kind::Ours).and_then(|r| r.p99_us);
    let _ = writeln!(
        s,
        "| p99 ≤ 1 ms at 1,000 pairs × 10 msg/s | {} | {} |",
        fmt_opt(p99, |v| format!("{v:.0} µs")),
        verdict(p99.map(|v| v <= 1000.0))
    );
    let paced_cpu = find("latency", Kind::Ours).and_then(|r| r.cpu_us_per_msg);
    let _ = writeln!(
        s,
        "| ≤ 10 µs server CPU per message at 1,000 pairs × 10 msg/s | {} | {} |",
        fmt_opt(paced_cpu, |v| format!("{v:.2} µs")),
        verdict(paced_cpu.map(|v| v <= 10.0))
    );
    let mem = find("memory", Kind::Ours).and_then(|r| r.rss_per_socket);
    let _ = writeln!(
        s,
        "| ≤ 6 kB RSS per idle socket at 10,000 sockets | {} | {} |",
        fmt_opt(mem, |v| format!("{:.2} kB", v / 1000.0)),
        verdict(mem.map(|v| v <= 6000.0))
    );
    s
}

/// The soft RLIMIT_NOFILE of this process, read without unsafe code.
fn nofile_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

async fn run_all() {
    let window = Duration::from_secs(
        std::env::var("RELAY_LOAD_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5),
    );
    let wanted_servers =
        std::env::var("RELAY_LOAD_SERVERS").unwrap_or_else(|_| "ours,pydglab,vendor".into());
    let vendor_js = std::env::var_os("RELAY_LOAD_VENDOR_JS").is_some();
    let kinds: Vec<Kind> = [
        ("ours", Kind::Ours),
        ("pydglab", Kind::PyDglab),
        ("vendor", Kind::Vendor),
    ]
    .into_iter()
    .filter(|(name, kind)| {
        wanted_servers.split(',').any(|s| s == *name) && (*kind != Kind::Vendor || vendor_js)
    })
    .map(|(_, kind)| kind)
    .collect();
    // Client and server each hold one descriptor per socket; leave room for the rest.
    let limit = nofile_limit().unwrap_or(1024);
    let wanted = std::env::var("RELAY_LOAD_IDLE_SOCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IDLE_SOCKETS);
    let sockets = wanted.min(limit.saturating_sub(200)) / 2 * 2;
    let mut preamble = format!(
        "Command: `cargo bench --bench relay_load` · {} cores · measured window {}s after {}s warm-up · \
         load generator and server on the same machine, server in its own process\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        window.as_secs(),
        WARM_UP.as_secs()
    );
    if sockets < IDLE_SOCKETS {
        let _ = writeln!(
            preamble,
            "\n**RLIMIT_NOFILE is {limit}: the memory scenario opened at most {sockets} sockets.** \
             Run under `bash -c 'ulimit -n 65536; cargo bench --bench relay_load'`."
        );
    }
    let scenarios = std::env::var("RELAY_LOAD_SCENARIOS")
        .unwrap_or_else(|_| "throughput,latency,memory".into());
    if !vendor_js && wanted_servers.split(',').any(|s| s == "vendor") {
        let _ = writeln!(
            preamble,
            "\nVendor Node relay skipped: set RELAY_LOAD_VENDOR_JS=/path/to/websocketNode.js \
             (see the header of benches/relay_load.rs)."
        );
        eprintln!("relay_load: vendor Node relay skipped (RELAY_LOAD_VENDOR_JS not set)");
    }
    if std::env::var_os("RELAY_LOAD_OURS_BIN").is_some() {
        let _ = writeln!(
            preamble,
            "\nOur relay: the real `dglab-relay serve --max-connections 12000` (RELAY_LOAD_OURS_BIN)."
        );
    }
    let _ = writeln!(preamble, "\nLoad average (1 min) at start: {}", loadavg());
    let mut rows = Vec::new();
    for scenario in ["throughput", "latency", "memory"] {
        if !scenarios.split(',').any(|s| s == scenario) {
            continue;
        }
        for &kind in &kinds {
            eprintln!("relay_load: {scenario}, {}", kind.label());
            rows.push(match scenario {
                "throughput" => throughput(kind, window).await,
                "latency" => latency(kind, window).await,
                _ => memory(kind, sockets).await,
            });
        }
    }
    let report = format!(
        "# relay_load\n\n{preamble}\n{}\n{}",
        table(&rows),
        targets(&rows)
    );
    println!("{report}");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    let _ = std::fs::create_dir_all(&dir);
    match std::fs::write(dir.join("relay_load.md"), &report) {
        Ok(()) => eprintln!("relay_load: wrote {}", dir.join("relay_load.md").display()),
        Err(e) => eprintln!("relay_load: cannot write bench-results/relay_load.md: {e}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-ours") {
        let portfile = args.get(i + 1).expect("--serve-ours PORTFILE");
        serve_ours(Path::new(portfile));
        return;
    }
    // Anything else (cargo passes `--bench`, maybe a filter) is ignored: there is one bench.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run_all());
}
