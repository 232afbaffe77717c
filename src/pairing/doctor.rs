//! The pairing doctor: for each address of this machine, why it ranks where it does for the
//! QR code, whether the relay really answers there, what the local firewall says, and
//! hints for a typed public URL.
//!
//! Everything a user reads is data: each reason is a `kind` with parameters (serialized as
//! `{"kind": …, "params": {…}}`), so the window words it in English or Chinese; `Display`
//! gives the English text the command line prints.
//!
//! The self-test is what a phone would do, minus the Wi-Fi: connect to `address:port` and
//! `GET /check`; only the relay's phone page (recognised by
//! [`CHECK_HEADER`](super::check::CHECK_HEADER)) counts as "listening here". It is a
//! connection from this machine to itself, so it proves the relay listens on that address
//! and nothing local refuses it; it cannot prove the Wi-Fi lets a phone through (client
//! isolation, a router's firewall): the phone page ([`super::phone_check_url`]) does.
//!
//! On this floor (0): no relay, no runtime; blocking sockets with deadlines, one thread per
//! address. Callers with a runtime run [`diagnose`] on a blocking thread.

use super::check::{phone_check_url, CHECK_HEADER, CHECK_HEADER_VALUE, CHECK_PATH};
use super::firewall::{self, FirewallReport, FirewallVerdict};
use super::lan::{is_virtual_interface, rank_addresses, InterfaceAddr, Tier};
use super::url::{validate_public_url, ws_base};
use serde::Serialize;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The `User-Agent` of the self-test's request, so whoever lists visits to the phone page
/// can tell the doctor's own from a phone's.
pub const SELF_TEST_USER_AGENT: &str = "dglab-doctor";

/// Default deadline of one self-test (connect, then the whole answer).
pub const SELF_TEST_TIMEOUT: Duration = Duration::from_secs(3);

/// What kind of network an interface is, from its name (and, on Linux, whether the kernel
/// calls it wireless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InterfaceKind {
    /// Wi-Fi: where a phone usually is.
    #[serde(rename = "wifi")]
    WiFi,
    /// Wired Ethernet (a phone on the router's Wi-Fi reaches it too).
    Ethernet,
    /// A VPN or overlay network (WireGuard, Tailscale, ZeroTier, OpenVPN).
    Vpn,
    /// A container, VM or bridge adapter (Docker, VirtualBox, libvirt, WSL).
    Virtual,
    /// This machine only.
    Loopback,
    /// A physical interface whose kind the name does not tell.
    Network,
}

/// What an IPv4 address is, for a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressScope {
    /// 10/8, 172.16/12, 192.168/16: a home or office network.
    Private,
    /// 100.64/10: carrier-grade NAT or Tailscale.
    SharedCgnat,
    /// Reachable from the Internet, if nothing blocks it.
    Public,
    /// 127/8.
    Loopback,
    /// 169.254/16: no DHCP answer; nobody else can reach it.
    LinkLocal,
    /// 0.0.0.0, broadcast, multicast.
    Unusable,
}

/// One reason an address ranks where it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum RankReason {
    /// The interface carries the default route: the network the phone is most likely on.
    DefaultRoute,
    /// A private address on another physical interface (a second network, a hotspot).
    OtherLan,
    /// A public address: a phone reaches it over the Internet if nothing blocks the port.
    PublicAddress,
    /// 100.64/10: reachable only from the same carrier network or tailnet.
    SharedAddress,
    /// A VPN: a phone reaches it only if it is on the same VPN.
    VpnAdapter {
        /// The interface.
        interface: String,
    },
    /// A container or VM adapter: a phone never reaches it directly.
    VirtualAdapter {
        /// The interface.
        interface: String,
    },
    /// Loopback: this machine only.
    LoopbackOnly,
    /// 169.254/16: the interface got no address from DHCP.
    LinkLocal,
    /// Not an address anyone can connect to.
    Unusable,
}

/// The self-test's outcome for one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum SelfTest {
    /// The relay's phone page came back.
    Listening {
        /// How long the whole exchange took.
        millis: u64,
    },
    /// Connection refused: nothing listens on that address and port.
    Refused,
    /// No answer in time: a firewall dropping packets, or a stuck server.
    TimedOut {
        /// The deadline, in seconds.
        secs: u64,
    },
    /// Something answered HTTP, but it is not DG-LAB Hub.
    NotOurs {
        /// Its status code.
        status: u16,
    },
    /// Something listens, but its answer is not HTTP (or it closed at once).
    NotHttp,
    /// The connection failed otherwise (no route, address not available).
    Failed {
        /// The system's error, in its words.
        error: String,
    },
    /// Not tested (turned off, or not an address to connect to).
    Skipped,
}

impl SelfTest {
    /// Whether the relay answered.
    pub fn passed(&self) -> bool {
        matches!(self, SelfTest::Listening { .. })
    }
}

/// Everything the doctor says about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressReport {
    /// Interface name.
    pub interface: String,
    /// The address.
    pub addr: Ipv4Addr,
    /// Wi-Fi, Ethernet, VPN, virtual, loopback.
    pub kind: InterfaceKind,
    /// Private, public, loopback….
    pub scope: AddressScope,
    /// The ranking's tier; `None` for an address never offered in a QR code.
    pub tier: Option<Tier>,
    /// Position in the QR code's ranking, 1 = the address the QR code carries by default;
    /// `None` when never offered.
    pub rank: Option<usize>,
    /// Whether a phone on a normal network could use it (offered, and not a VPN or
    /// container adapter).
    pub phone_usable: bool,
    /// Why it ranks where it does.
    pub reasons: Vec<RankReason>,
    /// The self-test through this address.
    pub self_test: SelfTest,
    /// `ws://addr:port`: the pairing URL's base with this address.
    pub pairing_base: String,
    /// `http://addr:port/check`: the page for the phone's browser.
    pub check_url: String,
}

/// A hint about a typed public URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum UrlHint {
    /// The URL breaks a rule of the pairing URL.
    Invalid {
        /// Why, in English (the validator's words).
        error: String,
    },
    /// `wss://`: TLS ends at a reverse proxy, which must pass the WebSocket upgrade.
    ProxyNeedsUpgradeHeaders,
    /// `wss://`: the certificate must be one the phone trusts.
    CertificateMustBeTrusted,
    /// `ws://` to a public host: unencrypted over the Internet.
    PlainWsOnInternet,
    /// `ws://` on port 443: that port is normally TLS, so `wss://` is meant.
    Port443MeansWss,
    /// A page loaded over https can only open `wss://`.
    HttpsPageNeedsWss,
    /// A path: the proxy must route `<path>/<terminal id>` to the relay.
    PathPrefix {
        /// The path.
        path: String,
    },
    /// Loopback: only this machine can use the URL.
    LoopbackHost,
    /// A private address: only phones on that network reach it.
    PrivateHost,
    /// A name: it must resolve on the phone's network.
    NameMustResolve {
        /// The host name.
        host: String,
    },
    /// Where to test it from the phone's browser.
    CheckUrl {
        /// `https://host/path/check` or `http://…`.
        url: String,
    },
}

/// What the doctor says about a typed public URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicUrlReport {
    /// The URL as typed.
    pub url: String,
    /// Whether it can be the base of a pairing URL.
    pub valid: bool,
    /// Hints, most important first.
    pub hints: Vec<UrlHint>,
}

/// The doctor's conclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum Verdict {
    /// A phone-usable address passed its self-test: the best such one.
    Ready {
        /// The address to put in the QR code.
        addr: Ipv4Addr,
        /// Its interface.
        interface: String,
        /// Whether the local firewall is known to block the port anyway.
        firewall_blocks: bool,
    },
    /// Phone-usable addresses exist but none passed.
    NotListening,
    /// This machine has no address a phone could use (no network, or only VPN/containers).
    NoUsableAddress,
}

/// Everything the doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// The relay's port.
    pub port: u16,
    /// Every IPv4 address of the machine, offered ones in QR order first.
    pub addresses: Vec<AddressReport>,
    /// The local firewall.
    pub firewall: FirewallReport,
    /// The typed public URL, if any.
    pub public_url: Option<PublicUrlReport>,
    /// The conclusion.
    pub verdict: Verdict,
}

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The relay's port.
    pub port: u16,
    /// A typed public URL to give hints about.
    pub public_url: Option<String>,
    /// Connect to each address (off: reasons only).
    pub self_test: bool,
    /// Deadline of one self-test.
    pub timeout: Duration,
}

impl DoctorOptions {
    /// Self-tests on, the default deadline, no public URL.
    pub fn new(port: u16) -> Self {
        DoctorOptions {
            port,
            public_url: None,
            self_test: true,
            timeout: SELF_TEST_TIMEOUT,
        }
    }
}

/// The kind of network behind an interface name.
pub fn interface_kind(name: &str, addr: Ipv4Addr, wireless: bool) -> InterfaceKind {
    let lower = name.to_ascii_lowercase();
    const VPN: &[&str] = &[
        "tun",
        "tap",
        "wg",
        "ppp",
        "tailscale",
        "utun",
        "zt",
        "ipsec",
        "vpn",
        "wireguard",
        "zerotier",
        "openvpn",
        "nordlynx",
        "proton",
    ];
    if addr.is_loopback() || lower == "lo" || lower.starts_with("lo0") || lower.contains("loopback")
    {
        InterfaceKind::Loopback
    } else if VPN
        .iter()
        .any(|p| lower.starts_with(p) || (p.len() > 3 && lower.contains(p)))
    {
        InterfaceKind::Vpn
    } else if is_virtual_interface(name) {
        InterfaceKind::Virtual
    } else if wireless
        || ["wl", "wifi", "wi-fi", "ath", "wlan"]
            .iter()
            .any(|p| lower.starts_with(p))
        || lower.contains("wireless")
        || lower.contains("wlan")
    {
        InterfaceKind::WiFi
    } else if lower.starts_with("eth")
        || lower.starts_with("enp")
        || lower.starts_with("eno")
        || lower.starts_with("ens")
        || lower.starts_with("enx")
        || lower.starts_with("ethernet")
    {
        InterfaceKind::Ethernet
    } else {
        InterfaceKind::Network
    }
}

/// What an address is, for a phone.
pub fn address_scope(addr: Ipv4Addr) -> AddressScope {
    let o = addr.octets();
    if addr.is_loopback() {
        AddressScope::Loopback
    } else if addr.is_link_local() {
        AddressScope::LinkLocal
    } else if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
        AddressScope::Unusable
    } else if addr.is_private() {
        AddressScope::Private
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        AddressScope::SharedCgnat
    } else {
        AddressScope::Public
    }
}

/// Whether the kernel calls an interface wireless (Linux; elsewhere the name decides).
fn is_wireless(name: &str) -> bool {
    cfg!(target_os = "linux")
        && !name.contains('/')
        && std::path::Path::new("/sys/class/net")
            .join(name)
            .join("wireless")
            .exists()
}

/// Diagnoses the given interface list (the real one, or a made-up one in tests), running
/// the self-tests (in parallel, one thread per address) unless turned off.
pub fn diagnose(
    interfaces: &[InterfaceAddr],
    options: &DoctorOptions,
    firewall: FirewallReport,
) -> DoctorReport {
    let ranked = rank_addresses(interfaces);
    let mut seen: Vec<Ipv4Addr> = vec![];
    let mut addresses: Vec<AddressReport> = vec![];
    // Offered addresses in QR order, then the rest in the OS's order.
    let ordered = ranked
        .iter()
        .map(|c| {
            let default_route = interfaces
                .iter()
                .any(|i| i.addr == c.addr && i.default_route);
            (c.interface.clone(), c.addr, default_route)
        })
        .chain(
            interfaces
                .iter()
                .map(|i| (i.interface.clone(), i.addr, i.default_route)),
        );
    for (interface, addr, default_route) in ordered {
        if seen.contains(&addr) {
            continue;
        }
        seen.push(addr);
        let position = ranked.iter().position(|c| c.addr == addr);
        let tier = position.map(|p| ranked[p].tier);
        let kind = interface_kind(&interface, addr, is_wireless(&interface));
        let scope = address_scope(addr);
        let reasons = rank_reasons(&interface, kind, scope, tier, default_route);
        let host = IpAddr::V4(addr);
        addresses.push(AddressReport {
            phone_usable: tier.is_some_and(|t| t != Tier::Virtual),
            interface,
            addr,
            kind,
            scope,
            tier,
            rank: position.map(|p| p + 1),
            reasons,
            self_test: SelfTest::Skipped,
            pairing_base: ws_base(host, options.port),
            check_url: phone_check_url(host, options.port),
        });
    }
    if options.self_test {
        std::thread::scope(|s| {
            let tests: Vec<_> = addresses
                .iter()
                .map(|a| {
                    let target = SocketAddr::new(IpAddr::V4(a.addr), options.port);
                    let testable = !matches!(a.scope, AddressScope::Unusable);
                    s.spawn(move || {
                        if testable {
                            self_test(target, options.timeout)
                        } else {
                            SelfTest::Skipped
                        }
                    })
                })
                .collect();
            for (a, t) in addresses.iter_mut().zip(tests) {
                a.self_test = t.join().unwrap_or(SelfTest::Skipped);
            }
        });
    }
    let verdict = match addresses
        .iter()
        .find(|a| a.phone_usable && a.self_test.passed())
    {
        Some(a) => Verdict::Ready {
            addr: a.addr,
            interface: a.interface.clone(),
            firewall_blocks: firewall.verdict == FirewallVerdict::Blocked,
        },
        None if addresses.iter().any(|a| a.phone_usable) => Verdict::NotListening,
        None => Verdict::NoUsableAddress,
    };
    DoctorReport {
        port: options.port,
        addresses,
        firewall,
        public_url: options.public_url.as_deref().map(public_url_hints),
        verdict,
    }
}

/// [`diagnose`] on this machine's interfaces and firewall. An OS that refuses to list its
/// interfaces gives an empty list (and the verdict says so), never an error.
pub fn diagnose_this_machine(options: &DoctorOptions) -> DoctorReport {
    let interfaces = super::lan::interface_addresses().unwrap_or_default();
    diagnose(&interfaces, options, firewall::check(options.port))
}

fn rank_reasons(
    interface: &str,
    kind: InterfaceKind,
    scope: AddressScope,
    tier: Option<Tier>,
    default_route: bool,
) -> Vec<RankReason> {
    let mut out = vec![];
    match scope {
        AddressScope::Loopback => return vec![RankReason::LoopbackOnly],
        AddressScope::LinkLocal => return vec![RankReason::LinkLocal],
        AddressScope::Unusable => return vec![RankReason::Unusable],
        _ => {}
    }
    match (tier, kind) {
        (Some(Tier::Virtual), InterfaceKind::Vpn) => out.push(RankReason::VpnAdapter {
            interface: interface.to_owned(),
        }),
        (Some(Tier::Virtual), _) => out.push(RankReason::VirtualAdapter {
            interface: interface.to_owned(),
        }),
        (Some(Tier::DefaultRoute), _) => out.push(RankReason::DefaultRoute),
        (Some(Tier::Lan), _) => out.push(RankReason::OtherLan),
        _ => {}
    }
    match scope {
        AddressScope::Public => out.push(RankReason::PublicAddress),
        AddressScope::SharedCgnat => out.push(RankReason::SharedAddress),
        _ => {}
    }
    if default_route && tier == Some(Tier::Other) {
        out.push(RankReason::DefaultRoute);
    }
    out
}

/// Connects to `addr`, asks `GET /check` and says what answered, within `timeout` for the
/// connection and again for the answer.
pub fn self_test(addr: SocketAddr, timeout: Duration) -> SelfTest {
    let start = Instant::now();
    let mut tcp = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(tcp) => tcp,
        Err(e) => return connect_error(&e, timeout),
    };
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let request = format!(
        "GET {CHECK_PATH} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {SELF_TEST_USER_AGENT}\r\n\
         Accept: text/html\r\nConnection: close\r\n\r\n"
    );
    if let Err(e) = tcp.write_all(request.as_bytes()) {
        return connect_error(&e, timeout);
    }
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let deadline = start + timeout * 2;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let ours = resp.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case(CHECK_HEADER)
                        && h.value == CHECK_HEADER_VALUE.as_bytes()
                });
                let status = resp.code.unwrap_or(0);
                return if status == 200 && ours {
                    SelfTest::Listening {
                        millis: start.elapsed().as_millis() as u64,
                    }
                } else {
                    SelfTest::NotOurs { status }
                };
            }
            Ok(httparse::Status::Partial) if buf.len() < 16 * 1024 => {}
            _ => return SelfTest::NotHttp,
        }
        if Instant::now() >= deadline {
            return SelfTest::TimedOut {
                secs: timeout.as_secs().max(1),
            };
        }
        match tcp.read(&mut chunk) {
            Ok(0) => return SelfTest::NotHttp,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return SelfTest::TimedOut {
                    secs: timeout.as_secs().max(1),
                }
            }
            Err(_) => return SelfTest::NotHttp,
        }
    }
}

fn connect_error(e: &std::io::Error, timeout: Duration) -> SelfTest {
    match e.kind() {
        ErrorKind::ConnectionRefused => SelfTest::Refused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => SelfTest::TimedOut {
            secs: timeout.as_secs().max(1),
        },
        _ => SelfTest::Failed {
            error: e.to_string(),
        },
    }
}

/// Hints for a public URL the user typed (pure: nothing is connected to).
pub fn public_url_hints(url: &str) -> PublicUrlReport {
    let normalised = match validate_public_url(url) {
        Ok(u) => u,
        Err(e) => {
            return PublicUrlReport {
                url: url.to_owned(),
                valid: false,
                hints: vec![UrlHint::Invalid {
                    error: e.to_string(),
                }],
            }
        }
    };
    let secure = normalised.starts_with("wss://");
    let rest = normalised.split_once("://").map_or("", |(_, r)| r);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(authority);
    let ip: Option<IpAddr> = host.trim_matches(|c| c == '[' || c == ']').parse().ok();
    let mut hints = vec![];
    if secure {
        hints.push(UrlHint::ProxyNeedsUpgradeHeaders);
        hints.push(UrlHint::CertificateMustBeTrusted);
    } else {
        if port == Some(443) {
            hints.push(UrlHint::Port443MeansWss);
        }
        if !ip.is_some_and(|ip| ip.is_loopback() || is_private(ip)) {
            hints.push(UrlHint::PlainWsOnInternet);
        }
        hints.push(UrlHint::HttpsPageNeedsWss);
    }
    if !path.is_empty() {
        hints.push(UrlHint::PathPrefix {
            path: path.to_owned(),
        });
    }
    match ip {
        Some(ip) if ip.is_loopback() => hints.push(UrlHint::LoopbackHost),
        Some(ip) if is_private(ip) => hints.push(UrlHint::PrivateHost),
        Some(_) => {}
        None => hints.push(UrlHint::NameMustResolve {
            host: host.to_owned(),
        }),
    }
    let scheme = if secure { "https" } else { "http" };
    hints.push(UrlHint::CheckUrl {
        url: format!("{scheme}://{authority}{path}{CHECK_PATH}"),
    });
    PublicUrlReport {
        url: url.to_owned(),
        valid: true,
        hints,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        // Unique-local fc00::/7 and link-local fe80::/10.
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// `host:port`, `[v6]:port`, `host` → (host, port).
fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(end) = authority.find(']') {
        let port = authority[end + 1..]
            .strip_prefix(':')
            .and_then(|p| p.parse().ok());
        return (&authority[..=end], port);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()),
        None => (authority, None),
    }
}

impl fmt::Display for InterfaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InterfaceKind::WiFi => "Wi-Fi",
            InterfaceKind::Ethernet => "Ethernet",
            InterfaceKind::Vpn => "VPN",
            InterfaceKind::Virtual => "virtual adapter",
            InterfaceKind::Loopback => "loopback",
            InterfaceKind::Network => "network",
        })
    }
}

impl fmt::Display for AddressScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressScope::Private => "private",
            AddressScope::SharedCgnat => "shared (100.64/10)",
            AddressScope::Public => "public",
            AddressScope::Loopback => "loopback",
            AddressScope::LinkLocal => "link-local",
            AddressScope::Unusable => "unusable",
        })
    }
}

impl fmt::Display for RankReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RankReason::DefaultRoute => f.write_str(
                "carries the default route: the network your phone is most likely on",
            ),
            RankReason::OtherLan => {
                f.write_str("a private address on another network of this machine")
            }
            RankReason::PublicAddress => f.write_str(
                "a public address: a phone reaches it over the Internet only if nothing blocks the port",
            ),
            RankReason::SharedAddress => f.write_str(
                "a shared 100.64/10 address (carrier NAT or Tailscale): only phones on that network reach it",
            ),
            RankReason::VpnAdapter { interface } => write!(
                f,
                "{interface} is a VPN: a phone reaches it only when it is on the same VPN"
            ),
            RankReason::VirtualAdapter { interface } => write!(
                f,
                "{interface} is a container or VM adapter: a phone cannot reach it"
            ),
            RankReason::LoopbackOnly => {
                f.write_str("loopback: only programs on this machine can use it, never a phone")
            }
            RankReason::LinkLocal => f.write_str(
                "169.254.x.x: the interface got no address from the router (DHCP); a phone cannot reach it",
            ),
            RankReason::Unusable => f.write_str("not an address anyone can connect to"),
        }
    }
}

impl fmt::Display for SelfTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelfTest::Listening { millis } => {
                write!(f, "listening here (the phone page answered in {millis} ms)")
            }
            SelfTest::Refused => f.write_str(
                "connection refused: the relay does not listen on this address (check --host)",
            ),
            SelfTest::TimedOut { secs } => write!(
                f,
                "no answer within {secs} s: a firewall may drop connections to the port"
            ),
            SelfTest::NotOurs { status } => write!(
                f,
                "another server answers on this port (HTTP {status}), not DG-LAB Hub"
            ),
            SelfTest::NotHttp => f.write_str(
                "another program listens on this port (its answer is not HTTP), not DG-LAB Hub",
            ),
            SelfTest::Failed { error } => write!(f, "cannot connect: {error}"),
            SelfTest::Skipped => f.write_str("not tested"),
        }
    }
}

impl fmt::Display for UrlHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlHint::Invalid { error } => write!(f, "cannot be used: {error}"),
            UrlHint::ProxyNeedsUpgradeHeaders => f.write_str(
                "wss:// ends TLS at a reverse proxy: it must pass the WebSocket upgrade to the relay \
                 (nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; \
                 proxy_set_header Connection \"upgrade\") and keep idle connections open longer \
                 than the heartbeat (60 s)",
            ),
            UrlHint::CertificateMustBeTrusted => f.write_str(
                "the certificate must be one the phone trusts (a self-signed one fails in the App)",
            ),
            UrlHint::PlainWsOnInternet => f.write_str(
                "ws:// is unencrypted: over the Internet anyone on the way can read and send commands; \
                 prefer wss:// behind a TLS proxy",
            ),
            UrlHint::Port443MeansWss => {
                f.write_str("port 443 is normally TLS: you probably mean wss://")
            }
            UrlHint::HttpsPageNeedsWss => f.write_str(
                "a web page served over https can only open wss://, never ws://",
            ),
            UrlHint::PathPrefix { path } => write!(
                f,
                "the App connects to {path}/<terminal id>: the proxy must route that path to the relay"
            ),
            UrlHint::LoopbackHost => {
                f.write_str("a loopback address: only this machine can use it, never a phone")
            }
            UrlHint::PrivateHost => f.write_str(
                "a private address: only phones on that network reach it, not over mobile data",
            ),
            UrlHint::NameMustResolve { host } => {
                write!(f, "{host} must resolve to this relay from the phone's network")
            }
            UrlHint::CheckUrl { url } => write!(
                f,
                "open {url} in the phone's browser: the DG-LAB Hub page proves the phone gets through"
            ),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Ready {
                addr,
                interface,
                firewall_blocks,
            } => {
                write!(
                    f,
                    "ready: a phone on the same network as {interface} should reach {addr}"
                )?;
                if *firewall_blocks {
                    f.write_str(", but the firewall is known to block the port (see above)")?;
                }
                Ok(())
            }
            Verdict::NotListening => f.write_str(
                "not ready: no address a phone could use passed the self-test",
            ),
            Verdict::NoUsableAddress => f.write_str(
                "not ready: this machine has no address a phone could use (is it on a Wi-Fi or LAN?)",
            ),
        }
    }
}

/// The English report; `{:#}` leaves out the final verdict.
impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "DG-LAB Hub pairing doctor: port {}", self.port)?;
        for a in &self.addresses {
            let place = match a.rank {
                Some(1) => "the QR code's choice".to_owned(),
                Some(n) => format!("choice {n}"),
                None => "never in the QR code".to_owned(),
            };
            let what = if a.kind == InterfaceKind::Loopback {
                a.kind.to_string()
            } else {
                format!("{}, {}", a.kind, a.scope)
            };
            writeln!(f, "\n{} on {} ({what}): {place}", a.addr, a.interface)?;
            for r in &a.reasons {
                writeln!(f, "  why: {r}")?;
            }
            writeln!(f, "  self-test: {}", a.self_test)?;
            if a.phone_usable {
                writeln!(
                    f,
                    "  phone test: open {} in the phone's browser",
                    a.check_url
                )?;
            }
        }
        if self.addresses.is_empty() {
            writeln!(f, "\nno IPv4 address found on this machine")?;
        }
        writeln!(f, "\n{}", self.firewall)?;
        if let Some(p) = &self.public_url {
            writeln!(f, "\npublic URL {}:", p.url)?;
            for h in &p.hints {
                writeln!(f, "  - {h}")?;
            }
        }
        // `{:#}`: without the verdict (a caller that judges named addresses itself).
        if f.alternate() {
            return Ok(());
        }
        write!(f, "\n{}", self.verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairing::firewall::FirewallFinding;
    use std::net::TcpListener;

    fn ia(interface: &str, addr: [u8; 4], default_route: bool) -> InterfaceAddr {
        InterfaceAddr {
            interface: interface.into(),
            addr: Ipv4Addr::from(addr),
            default_route,
        }
    }

    fn no_firewall(port: u16) -> FirewallReport {
        FirewallReport::from_findings(port, vec![FirewallFinding::NftNoInputPolicy])
    }

    fn offline(port: u16) -> DoctorOptions {
        DoctorOptions {
            self_test: false,
            ..DoctorOptions::new(port)
        }
    }

    #[test]
    fn kinds_from_names() {
        let a = Ipv4Addr::new(192, 168, 1, 2);
        assert_eq!(interface_kind("wlan0", a, false), InterfaceKind::WiFi);
        assert_eq!(interface_kind("wlp2s0", a, false), InterfaceKind::WiFi);
        assert_eq!(interface_kind("Wi-Fi", a, false), InterfaceKind::WiFi);
        assert_eq!(interface_kind("en0", a, true), InterfaceKind::WiFi);
        assert_eq!(interface_kind("en0", a, false), InterfaceKind::Network);
        assert_eq!(interface_kind("enp3s0", a, false), InterfaceKind::Ethernet);
        assert_eq!(
            interface_kind("Ethernet 2", a, false),
            InterfaceKind::Ethernet
        );
        assert_eq!(interface_kind("wg0", a, false), InterfaceKind::Vpn);
        assert_eq!(interface_kind("tailscale0", a, false), InterfaceKind::Vpn);
        assert_eq!(interface_kind("docker0", a, false), InterfaceKind::Virtual);
        assert_eq!(
            interface_kind("vEthernet (WSL)", a, false),
            InterfaceKind::Virtual
        );
        assert_eq!(
            interface_kind("lo", Ipv4Addr::LOCALHOST, false),
            InterfaceKind::Loopback
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(address_scope([10, 0, 0, 1].into()), AddressScope::Private);
        assert_eq!(
            address_scope([100, 101, 1, 1].into()),
            AddressScope::SharedCgnat
        );
        assert_eq!(address_scope([203, 0, 113, 7].into()), AddressScope::Public);
        assert_eq!(
            address_scope([169, 254, 3, 4].into()),
            AddressScope::LinkLocal
        );
        assert_eq!(address_scope([127, 0, 0, 1].into()), AddressScope::Loopback);
        assert_eq!(address_scope([0, 0, 0, 0].into()), AddressScope::Unusable);
    }

    #[test]
    fn every_address_is_listed_with_why_it_ranks_there() {
        let machine = [
            ia("lo", [127, 0, 0, 1], false),
            ia("docker0", [172, 17, 0, 1], false),
            ia("wg0", [10, 9, 0, 2], false),
            ia("eth1", [203, 0, 113, 7], false),
            ia("wlan0", [192, 168, 1, 23], true),
            ia("eth0", [169, 254, 9, 9], false),
        ];
        let r = diagnose(&machine, &offline(9999), no_firewall(9999));
        let order: Vec<(&str, Option<usize>, bool)> = r
            .addresses
            .iter()
            .map(|a| (a.interface.as_str(), a.rank, a.phone_usable))
            .collect();
        assert_eq!(
            order,
            [
                ("wlan0", Some(1), true),
                ("eth1", Some(2), true),
                ("docker0", Some(3), false),
                ("wg0", Some(4), false),
                ("lo", None, false),
                ("eth0", None, false),
            ]
        );
        let reasons = |i: usize| r.addresses[i].reasons.clone();
        assert_eq!(reasons(0), [RankReason::DefaultRoute]);
        assert_eq!(r.addresses[0].kind, InterfaceKind::WiFi);
        assert_eq!(r.addresses[0].check_url, "http://192.168.1.23:9999/check");
        assert_eq!(r.addresses[0].pairing_base, "ws://192.168.1.23:9999");
        assert_eq!(reasons(1), [RankReason::PublicAddress]);
        assert!(matches!(reasons(2)[0], RankReason::VirtualAdapter { .. }));
        assert!(matches!(reasons(3)[0], RankReason::VpnAdapter { .. }));
        assert_eq!(reasons(4), [RankReason::LoopbackOnly]);
        assert_eq!(reasons(5), [RankReason::LinkLocal]);
        assert!(r.addresses.iter().all(|a| a.self_test == SelfTest::Skipped));
        assert_eq!(r.verdict, Verdict::NotListening);
        // The words and the data the window gets.
        let text = r.to_string();
        assert!(
            text.contains("192.168.1.23 on wlan0 (Wi-Fi, private): the QR code's choice"),
            "{text}"
        );
        assert!(text.contains("loopback: only programs on this machine"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["addresses"][0]["reasons"][0]["kind"], "default_route");
        assert_eq!(
            json["addresses"][2]["reasons"][0]["params"]["interface"],
            "docker0"
        );
    }

    /// A one-shot HTTP server on 127.0.0.1 that answers with `answer`.
    fn serve_once(answer: &'static [u8]) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(answer);
            }
        });
        port
    }

    #[test]
    fn the_self_test_knows_our_page_from_other_servers() {
        let ours = serve_once(
            b"HTTP/1.1 200 OK\r\nX-DGLAB-Hub: phone-check\r\nContent-Length: 2\r\n\r\nok",
        );
        let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
        assert!(self_test(local(ours), SELF_TEST_TIMEOUT).passed());
        let other = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(
            self_test(local(other), SELF_TEST_TIMEOUT),
            SelfTest::NotOurs { status: 200 }
        );
        let ssh = serve_once(b"SSH-2.0-OpenSSH_9.2\r\n\r\n");
        assert_eq!(self_test(local(ssh), SELF_TEST_TIMEOUT), SelfTest::NotHttp);
        // A port nobody listens on: bound, then closed.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert_eq!(self_test(closed, SELF_TEST_TIMEOUT), SelfTest::Refused);
    }

    #[test]
    fn silence_times_out_instead_of_hanging() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // Accepted by the kernel's backlog, never answered.
        let got = self_test(addr, Duration::from_millis(200));
        assert!(matches!(got, SelfTest::TimedOut { .. }), "{got:?}");
        drop(l);
    }

    #[test]
    fn a_loopback_only_machine_is_not_ready_even_when_listening() {
        let port =
            serve_once(b"HTTP/1.1 200 OK\r\nX-DGLAB-Hub: phone-check\r\nContent-Length: 0\r\n\r\n");
        let r = diagnose(
            &[ia("lo", [127, 0, 0, 1], false)],
            &DoctorOptions::new(port),
            no_firewall(port),
        );
        assert!(r.addresses[0].self_test.passed());
        assert_eq!(r.verdict, Verdict::NoUsableAddress);
    }

    #[test]
    fn public_url_hints() {
        let hints = |u: &str| super::public_url_hints(u).hints;
        let wss = hints("wss://relay.example.org/dglab/");
        assert_eq!(wss[0], UrlHint::ProxyNeedsUpgradeHeaders);
        assert!(wss.contains(&UrlHint::PathPrefix {
            path: "/dglab".into()
        }));
        assert!(wss.contains(&UrlHint::NameMustResolve {
            host: "relay.example.org".into()
        }));
        assert_eq!(
            wss.last(),
            Some(&UrlHint::CheckUrl {
                url: "https://relay.example.org/dglab/check".into()
            })
        );
        let ws443 = hints("ws://203.0.113.7:443");
        assert_eq!(ws443[0], UrlHint::Port443MeansWss);
        assert!(ws443.contains(&UrlHint::PlainWsOnInternet));
        assert!(ws443.contains(&UrlHint::HttpsPageNeedsWss));
        let lan = hints("ws://192.168.1.5:9999");
        assert!(!lan.contains(&UrlHint::PlainWsOnInternet));
        assert!(lan.contains(&UrlHint::PrivateHost));
        assert!(hints("ws://127.0.0.1:9999").contains(&UrlHint::LoopbackHost));
        assert!(hints("ws://[fd00::5]:9999").contains(&UrlHint::PrivateHost));
        let bad = super::public_url_hints("http://example.org");
        assert!(!bad.valid);
        assert!(matches!(bad.hints[0], UrlHint::Invalid { .. }));
        assert!(UrlHint::ProxyNeedsUpgradeHeaders
            .to_string()
            .contains("proxy_set_header Upgrade"));
    }
}
