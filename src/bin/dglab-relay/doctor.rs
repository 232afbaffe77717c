//! `dglab-relay doctor`: the pairing doctor for the headless relay.
//!
//! It tests the relay already running on the port, or, when nothing listens there, starts
//! a temporary one for the test (on `--host`, like `serve`) and stops it afterwards. Then
//! every address of this machine gets its reason, its self-test and the firewall's word
//! ([`dglab_core::pairing::doctor`]); `--json` prints the same as data.
//!
//! Exit code 0 when a phone could pair: an address a phone on the LAN can use passed its
//! self-test (with `--address`, when every named address passed); 1 otherwise; 2 when the
//! temporary relay cannot listen.

use clap::Args;
use dglab_core::pairing::doctor::{diagnose, DoctorOptions, DoctorReport, Verdict};
use dglab_core::pairing::{firewall, interface_addresses, InterfaceAddr};
use dglab_core::relay::{self, RelayConfig};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// `doctor`'s flags.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The relay's TCP port
    #[arg(long, value_name = "N", default_value_t = 9999)]
    port: u16,
    /// Where the temporary relay listens when none runs on the
    /// port (as serve's --host)
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0",
        verbatim_doc_comment
    )]
    host: IpAddr,
    /// Test only this address (again for several), e.g. the
    /// one you mean to put in the QR code
    #[arg(long, value_name = "IP", action = clap::ArgAction::Append, verbatim_doc_comment)]
    address: Vec<Ipv4Addr>,
    /// A ws:// or wss:// URL you mean to give the phone:
    /// hints about it (nothing is connected to)
    #[arg(long, value_name = "URL", verbatim_doc_comment)]
    public_url: Option<String>,
    /// Print the findings as JSON instead of text
    #[arg(long)]
    json: bool,
}

/// Which relay was tested.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum Tested {
    /// One was already listening on the port.
    Running,
    /// The doctor started one for the test.
    Temporary,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Output<'a> {
    relay: Tested,
    /// Whether the named addresses (or a phone-usable one) passed: the exit code's reason.
    ok: bool,
    report: &'a DoctorReport,
}

/// Runs the doctor; returns the exit code.
pub fn run(args: &DoctorArgs) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    rt.block_on(doctor(args.clone()))
}

async fn doctor(args: DoctorArgs) -> i32 {
    let probe_ip = match args.host {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let running = args.port != 0 && listening(SocketAddr::new(probe_ip, args.port)).await;
    let (tested, temporary, port) = if running {
        (Tested::Running, None, args.port)
    } else {
        let wanted = SocketAddr::new(args.host, args.port);
        let listener = match tokio::net::TcpListener::bind(wanted).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot start a temporary relay on {wanted}: {e}");
                return 2;
            }
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
        match relay::start(listener, RelayConfig::default()) {
            Ok(r) => (Tested::Temporary, Some(r), port),
            Err(e) => {
                eprintln!("error: cannot start a temporary relay: {e}");
                return 2;
            }
        }
    };
    let options = DoctorOptions {
        public_url: args.public_url.clone(),
        ..DoctorOptions::new(port)
    };
    let only = args.address.clone();
    let report = tokio::task::spawn_blocking(move || {
        let interfaces = choose_interfaces(interface_addresses().unwrap_or_default(), &only);
        diagnose(&interfaces, &options, firewall::check(port))
    })
    .await;
    if let Some(r) = temporary {
        r.shutdown().await;
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: the doctor failed: {e}");
            return 1;
        }
    };
    let ok = if args.address.is_empty() {
        matches!(report.verdict, Verdict::Ready { .. })
    } else {
        report.addresses.iter().all(|a| a.self_test.passed())
    };
    if args.json {
        let out = Output {
            relay: tested,
            ok,
            report: &report,
        };
        match serde_json::to_string_pretty(&out) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
    } else {
        match tested {
            Tested::Running => println!("testing the relay already running on port {port}"),
            Tested::Temporary if args.port == 0 => println!(
                "started a temporary relay on {} for the test",
                SocketAddr::new(args.host, port)
            ),
            Tested::Temporary => println!(
                "nothing listened on port {port}: started a temporary relay on {} for the test",
                SocketAddr::new(args.host, port)
            ),
        }
        if args.address.is_empty() {
            println!("{report}");
        } else {
            println!("{report:#}");
            println!(
                "{}",
                if ok {
                    "the named address(es) answer"
                } else {
                    "a named address does not answer (see its self-test)"
                }
            );
        }
    }
    if ok {
        0
    } else {
        1
    }
}

/// Whether something accepts connections at `addr` (refused or silent: no).
async fn listening(addr: SocketAddr) -> bool {
    let connect = tokio::net::TcpStream::connect(addr);
    matches!(
        tokio::time::timeout(Duration::from_secs(1), connect).await,
        Ok(Ok(_))
    )
}

/// The machine's addresses, or only the named ones (kept with their interface if this
/// machine has them, else as "named").
fn choose_interfaces(all: Vec<InterfaceAddr>, only: &[Ipv4Addr]) -> Vec<InterfaceAddr> {
    if only.is_empty() {
        return all;
    }
    only.iter()
        .map(|ip| {
            all.iter()
                .find(|i| i.addr == *ip)
                .cloned()
                .unwrap_or(InterfaceAddr {
                    interface: "named".into(),
                    addr: *ip,
                    default_route: false,
                })
        })
        .collect()
}
