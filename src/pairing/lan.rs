//! Which of this machine's IPv4 addresses to put in the QR code.
//!
//! The phone must reach the relay from the same Wi-Fi, so the best address is a private one
//! on the physical interface that carries the default route. A laptop typically also has
//! Docker bridges, a VPN, Tailscale, VirtualBox host-only adapters…; those addresses are
//! kept (the user may know better) but ranked last. Loopback, `0.0.0.0` and link-local
//! `169.254/16` are never offered: a phone cannot reach them.
//!
//! [`rank_addresses`] is pure; [`interface_addresses`] gathers the real list.
//!
//! By hand on purpose: no crate ranks addresses by what a phone on the same Wi-Fi can reach.

use serde::Serialize;
use std::net::Ipv4Addr;

/// One IPv4 address of one interface, as the OS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddr {
    /// Interface name: `wlan0`, `en0`, `Wi-Fi`, `vEthernet (WSL)`…
    pub interface: String,
    /// The address.
    pub addr: Ipv4Addr,
    /// Whether this interface carries the default route (so the phone's Wi-Fi is likely
    /// the network it is on).
    pub default_route: bool,
}

/// How likely a phone on the LAN reaches an address; the order of the variants is the rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// A private address on a physical interface that carries the default route.
    DefaultRoute,
    /// A private address on another physical interface (a second NIC, a hotspot).
    Lan,
    /// A public or CGNAT address on a physical interface (a server on the Internet).
    Other,
    /// A VPN, container or VM adapter: reachable from the phone only in special setups.
    Virtual,
}

/// An address the QR code could carry, best first in [`rank_addresses`]'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanCandidate {
    /// Interface name, shown to the user next to the address.
    pub interface: String,
    /// The address.
    pub addr: Ipv4Addr,
    /// Why it ranks where it does.
    pub tier: Tier,
}

/// Name prefixes (compared case-insensitively) of VPN, container and VM adapters on Linux,
/// macOS and BSD. `br-` is Docker's bridges; a bare `br0` is often the real LAN, so it is
/// not here.
const VIRTUAL_PREFIXES: &[&str] = &[
    "tun",
    "tap",
    "wg",
    "ppp",
    "docker",
    "br-",
    "veth",
    "virbr",
    "vmnet",
    "vboxnet",
    "zt",
    "tailscale",
    "utun",
    "lxc",
    "lxd",
    "podman",
    "cni",
    "flannel",
    "cali",
    "kube",
    "ipsec",
    "gif",
    "stf",
    "awdl",
    "llw",
    "anpi",
    "bridge",
    "vnic",
    "lo",
];

/// Name fragments (case-insensitive) of virtual adapters on Windows, whose names are
/// friendly names such as `vEthernet (WSL)` or `VirtualBox Host-Only Network`.
const VIRTUAL_FRAGMENTS: &[&str] = &[
    "virtualbox",
    "vmware",
    "hyper-v",
    "vethernet",
    "loopback",
    "virtual",
    "vpn",
    "tailscale",
    "zerotier",
    "wireguard",
    "openvpn",
    "tap-windows",
    "bluetooth",
];

/// Whether an interface name looks like a VPN, container or VM adapter (or loopback).
pub fn is_virtual_interface(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    VIRTUAL_PREFIXES.iter().any(|p| lower.starts_with(p))
        || VIRTUAL_FRAGMENTS.iter().any(|f| lower.contains(f))
}

/// Whether a phone could ever connect to this address.
fn is_offerable(addr: Ipv4Addr) -> bool {
    !(addr.is_loopback()
        || addr.is_unspecified()
        || addr.is_link_local()
        || addr.is_broadcast()
        || addr.is_multicast())
}

/// Ranks addresses best first and drops the ones a phone can never reach. Within a tier,
/// default-route interfaces come first, then private addresses, then the OS's order (a
/// stable sort, so the result is deterministic). An address listed twice is kept once.
pub fn rank_addresses(addrs: &[InterfaceAddr]) -> Vec<LanCandidate> {
    let mut ranked: Vec<(LanCandidate, bool, bool)> = Vec::new();
    for a in addrs {
        if !is_offerable(a.addr) || ranked.iter().any(|(c, ..)| c.addr == a.addr) {
            continue;
        }
        let private = a.addr.is_private();
        let tier = if is_virtual_interface(&a.interface) {
            Tier::Virtual
        } else if private && a.default_route {
            Tier::DefaultRoute
        } else if private {
            Tier::Lan
        } else {
            Tier::Other
        };
        let candidate = LanCandidate {
            interface: a.interface.clone(),
            addr: a.addr,
            tier,
        };
        ranked.push((candidate, a.default_route, private));
    }
    ranked.sort_by_key(|(c, default_route, private)| (c.tier, !default_route, !private));
    ranked.into_iter().map(|(c, ..)| c).collect()
}

/// Interfaces that carry an IPv4 default route, from the text of Linux's `/proc/net/route`
/// (a header line, then `Iface Destination Gateway Flags … Mask …` in hex). A default route
/// has destination and mask `00000000` and the `RTF_UP` flag.
pub fn parse_default_route_interfaces(proc_net_route: &str) -> Vec<String> {
    const RTF_UP: u32 = 0x1;
    let mut out: Vec<String> = Vec::new();
    for line in proc_net_route.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
            continue;
        }
        let up = u32::from_str_radix(f[3], 16).is_ok_and(|flags| flags & RTF_UP != 0);
        if up && !out.iter().any(|n| n == f[0]) {
            out.push(f[0].to_owned());
        }
    }
    out
}

/// This machine's IPv4 addresses with their interface names, each marked with whether it
/// carries the default route. Loopback and the like are still in the list;
/// [`rank_addresses`] drops them.
///
/// # Errors
/// When the OS refuses to list its interfaces. Failing to find the default route is not an
/// error: every address is then simply not marked.
pub fn interface_addresses() -> std::io::Result<Vec<InterfaceAddr>> {
    let interfaces = if_addrs::get_if_addrs()?;
    let default_ifaces = default_route_interfaces();
    let default_src = if default_ifaces.is_empty() {
        default_route_source()
    } else {
        None
    };
    Ok(interfaces
        .into_iter()
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) => Some(InterfaceAddr {
                default_route: default_ifaces.contains(&i.name) || default_src == Some(v4.ip),
                interface: i.name,
                addr: v4.ip,
            }),
            if_addrs::IfAddr::V6(_) => None,
        })
        .collect())
}

/// [`interface_addresses`] ranked by [`rank_addresses`]: the best address first.
///
/// # Errors
/// When the OS refuses to list its interfaces.
pub fn lan_candidates() -> std::io::Result<Vec<LanCandidate>> {
    Ok(rank_addresses(&interface_addresses()?))
}

/// On Linux the routing table names the interfaces directly; elsewhere (or if `/proc` is
/// not mounted) this is empty and [`default_route_source`] is used instead.
fn default_route_interfaces() -> Vec<String> {
    if cfg!(target_os = "linux") {
        std::fs::read_to_string("/proc/net/route")
            .map(|t| parse_default_route_interfaces(&t))
            .unwrap_or_default()
    } else {
        Vec::new()
    }
}

/// The source address the OS would use to reach the Internet: `connect` on a UDP socket
/// only looks up the route, it sends no packet. The target is TEST-NET-1 (RFC 5737), which
/// no LAN routes specially, so the lookup falls through to the default route without
/// naming anyone's real server.
fn default_route_source() -> Option<Ipv4Addr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    match socket.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ia(interface: &str, addr: [u8; 4], default_route: bool) -> InterfaceAddr {
        InterfaceAddr {
            interface: interface.into(),
            addr: Ipv4Addr::from(addr),
            default_route,
        }
    }

    fn order(ranked: &[LanCandidate]) -> Vec<(&str, Tier)> {
        ranked
            .iter()
            .map(|c| (c.interface.as_str(), c.tier))
            .collect()
    }

    #[test]
    fn wifi_beats_docker_tailscale_and_loopback() {
        let input = [
            ia("lo", [127, 0, 0, 1], false),
            ia("docker0", [172, 17, 0, 1], false),
            ia("tailscale0", [100, 101, 102, 103], false),
            ia("br-1a2b3c", [172, 18, 0, 1], false),
            ia("wlan0", [192, 168, 1, 23], true),
        ];
        let ranked = rank_addresses(&input);
        assert_eq!(ranked[0].addr, Ipv4Addr::new(192, 168, 1, 23));
        assert_eq!(
            order(&ranked),
            [
                ("wlan0", Tier::DefaultRoute),
                ("docker0", Tier::Virtual),
                ("br-1a2b3c", Tier::Virtual),
                ("tailscale0", Tier::Virtual),
            ]
        );
    }

    #[test]
    fn default_route_wins_over_os_order_among_physical() {
        let input = [
            ia("eth0", [10, 0, 0, 5], false),
            ia("wlp2s0", [192, 168, 0, 10], true),
            ia("enp3s0", [172, 16, 4, 2], false),
        ];
        assert_eq!(
            order(&rank_addresses(&input)),
            [
                ("wlp2s0", Tier::DefaultRoute),
                ("eth0", Tier::Lan),
                ("enp3s0", Tier::Lan),
            ]
        );
    }

    #[test]
    fn vpn_carrying_the_default_route_still_ranks_last() {
        // A full-tunnel VPN owns the default route, but the phone is on the Wi-Fi.
        let input = [
            ia("tun0", [10, 8, 0, 2], true),
            ia("en0", [192, 168, 178, 40], false),
        ];
        assert_eq!(
            order(&rank_addresses(&input)),
            [("en0", Tier::Lan), ("tun0", Tier::Virtual)]
        );
    }

    #[test]
    fn windows_friendly_names() {
        let input = [
            ia("vEthernet (WSL)", [172, 29, 160, 1], false),
            ia("VirtualBox Host-Only Network", [192, 168, 56, 1], false),
            ia("VMware Network Adapter VMnet8", [192, 168, 80, 1], false),
            ia("Loopback Pseudo-Interface 1", [127, 0, 0, 1], false),
            ia("Wi-Fi", [192, 168, 1, 50], true),
            ia("Ethernet", [10, 1, 2, 3], false),
        ];
        let ranked = rank_addresses(&input);
        assert_eq!(
            order(&ranked)[..2],
            [("Wi-Fi", Tier::DefaultRoute), ("Ethernet", Tier::Lan)]
        );
        assert_eq!(ranked.len(), 5);
        assert!(ranked[2..].iter().all(|c| c.tier == Tier::Virtual));
    }

    #[test]
    fn unreachable_addresses_are_never_offered() {
        let input = [
            ia("lo", [127, 0, 0, 1], false),
            ia("eth0", [0, 0, 0, 0], true),
            ia("eth1", [169, 254, 12, 34], false),
            ia("eth0", [192, 168, 1, 2], true),
            ia("eth0:1", [192, 168, 1, 2], true),
        ];
        let ranked = rank_addresses(&input);
        assert_eq!(order(&ranked), [("eth0", Tier::DefaultRoute)]);
    }

    #[test]
    fn public_address_on_a_server_ranks_after_private_lan() {
        let input = [
            ia("eth0", [203, 0, 113, 7], true),
            ia("eth1", [10, 0, 0, 7], false),
            ia("wg0", [10, 9, 0, 1], false),
        ];
        assert_eq!(
            order(&rank_addresses(&input)),
            [
                ("eth1", Tier::Lan),
                ("eth0", Tier::Other),
                ("wg0", Tier::Virtual)
            ]
        );
    }

    #[test]
    fn nothing_usable_gives_an_empty_list() {
        assert!(rank_addresses(&[ia("lo", [127, 0, 0, 1], false)]).is_empty());
        assert!(rank_addresses(&[]).is_empty());
    }

    #[test]
    fn virtual_names() {
        for name in [
            "tun0",
            "tap1",
            "wg0",
            "ppp0",
            "docker0",
            "br-abc",
            "veth12",
            "virbr0",
            "vmnet8",
            "vboxnet0",
            "ztabcdef",
            "tailscale0",
            "utun3",
            "Hyper-V Virtual Ethernet Adapter",
        ] {
            assert!(is_virtual_interface(name), "{name}");
        }
        for name in [
            "eth0",
            "wlan0",
            "en0",
            "enp3s0",
            "wlp2s0",
            "Wi-Fi",
            "Ethernet 2",
            "br0",
        ] {
            assert!(!is_virtual_interface(name), "{name}");
        }
    }

    #[test]
    fn proc_net_route_default_interfaces() {
        let table = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
wlan0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t00000000\t0100000A\t0002\t0\t0\t100\t00000000\t0\t0\t0
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t700\t00000000\t0\t0\t0
";
        // eth0's default route is not up (flags 0002).
        assert_eq!(parse_default_route_interfaces(table), ["wlan0"]);
        assert!(parse_default_route_interfaces("").is_empty());
        assert!(parse_default_route_interfaces("garbage\nmore garbage").is_empty());
    }

    #[test]
    fn real_machine_list_is_well_formed() {
        // Whatever this machine has, the ranking never offers loopback and sorts by tier.
        let ranked = lan_candidates().unwrap();
        assert!(ranked.iter().all(|c| !c.addr.is_loopback()));
        assert!(ranked.windows(2).all(|w| w[0].tier <= w[1].tier));
    }
}
