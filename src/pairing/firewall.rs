//! Whether this machine's firewall is known to block the relay's port: read-only, and
//! never a failure.
//!
//! On Linux it asks `ufw status verbose` and `nft list ruleset`, as the current user, with
//! no input (nothing can prompt for a password) and a short deadline. Both usually need
//! administrator rights; without them, or on another platform, the answer is "cannot
//! tell", which the doctor says plainly. The parsers are pure, so they are tested with
//! real outputs.
//!
//! The reading is deliberately modest: ufw's rules are matched by port; for nftables, an
//! `input` hook chain that drops or rejects by default is looked for, and then an `accept`
//! naming the port anywhere in the ruleset. It says "probably" where a ruleset could jump
//! around it.

use serde::Serialize;
use std::fmt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a firewall tool may take before it counts as "cannot tell".
const TOOL_DEADLINE: Duration = Duration::from_secs(3);

/// What one firewall tool says about the port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum FirewallFinding {
    /// ufw is installed but not active.
    UfwInactive,
    /// ufw lets the port in (a rule, or a default of allow).
    UfwAllows {
        /// The rule that lets it in, or `default allow`.
        rule: String,
    },
    /// ufw drops or rejects the port (a rule, or the default for incoming).
    UfwBlocks {
        /// The rule, or `default deny`.
        rule: String,
    },
    /// nftables has no input chain that drops by default.
    NftNoInputPolicy,
    /// nftables drops incoming by default but accepts the port.
    NftAllows {
        /// The accepting rule.
        rule: String,
    },
    /// nftables drops incoming by default and nothing accepts the port.
    NftProbablyBlocks {
        /// The chain's policy line or final rule.
        chain: String,
    },
    /// A tool could not be asked.
    CannotTell {
        /// `ufw`, `nft`, or `platform`.
        tool: &'static str,
        /// Why, as a key: `not_installed`, `needs_admin`, `timed_out`, `unreadable`,
        /// `unsupported_platform`.
        reason: &'static str,
    },
}

/// The firewall's overall answer for the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallVerdict {
    /// A tool says the port is blocked.
    Blocked,
    /// Every tool that could be read lets it in.
    Open,
    /// No tool could be read.
    CannotTell,
}

/// What the firewall check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirewallReport {
    /// The port asked about.
    pub port: u16,
    /// The overall answer.
    pub verdict: FirewallVerdict,
    /// Each tool's answer.
    pub findings: Vec<FirewallFinding>,
}

impl FirewallReport {
    /// The report for a list of findings: blocked if any blocks, open if any was read.
    pub fn from_findings(port: u16, findings: Vec<FirewallFinding>) -> Self {
        use FirewallFinding::*;
        let blocked = findings
            .iter()
            .any(|f| matches!(f, UfwBlocks { .. } | NftProbablyBlocks { .. }));
        let read = findings.iter().any(|f| !matches!(f, CannotTell { .. }));
        let verdict = if blocked {
            FirewallVerdict::Blocked
        } else if read {
            FirewallVerdict::Open
        } else {
            FirewallVerdict::CannotTell
        };
        FirewallReport {
            port,
            verdict,
            findings,
        }
    }
}

/// Asks this machine's firewall tools about `port` (TCP, incoming). Never fails.
pub fn check(port: u16) -> FirewallReport {
    let findings = if cfg!(target_os = "linux") {
        vec![
            match run("ufw", &["status", "verbose"]) {
                Ok(out) => parse_ufw(&out, port),
                Err(reason) => FirewallFinding::CannotTell {
                    tool: "ufw",
                    reason,
                },
            },
            match run("nft", &["list", "ruleset"]) {
                Ok(out) => parse_nft(&out, port),
                Err(reason) => FirewallFinding::CannotTell {
                    tool: "nft",
                    reason,
                },
            },
        ]
    } else {
        vec![FirewallFinding::CannotTell {
            tool: "platform",
            reason: "unsupported_platform",
        }]
    };
    FirewallReport::from_findings(port, findings)
}

/// Runs a tool read-only with no input and a deadline; its stdout, or why not.
fn run(tool: &str, args: &[&str]) -> Result<String, &'static str> {
    // sbin is often not on a normal user's PATH, where both tools live.
    let path = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| std::path::Path::new(d).join(tool))
        .find(|p| p.is_file())
        .ok_or("not_installed")?;
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env("LC_ALL", "C")
        .spawn()
        .map_err(|_| "unreadable")?;
    let deadline = Instant::now() + TOOL_DEADLINE;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("timed_out");
            }
        }
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut out);
    }
    // Both tools fail without administrator rights ("You need to be root", "Operation not
    // permitted"); an empty ruleset is a success with no output.
    if !status.success() {
        return Err("needs_admin");
    }
    Ok(out)
}

/// Whether a ufw "To" field (`9999`, `9999/tcp`, `9000:9100/tcp`, `22,9999/tcp`,
/// `Anywhere`) covers TCP `port`.
fn ufw_to_covers(to: &str, port: u16) -> bool {
    let (ports, proto) = match to.split_once('/') {
        Some((p, proto)) => (p, proto),
        None => (to, "tcp"),
    };
    if !proto.eq_ignore_ascii_case("tcp") {
        return false;
    }
    if ports.eq_ignore_ascii_case("anywhere") {
        return true;
    }
    ports.split(',').any(|part| match part.split_once(':') {
        Some((a, b)) => matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&port)),
        None => part.parse::<u16>() == Ok(port),
    })
}

/// Reads `ufw status verbose`: the first rule covering the port decides (ufw's order),
/// else the default for incoming.
pub fn parse_ufw(out: &str, port: u16) -> FirewallFinding {
    let mut active = None;
    let mut default_in = None;
    let mut in_rules = false;
    for line in out.lines() {
        let line = line.trim();
        if let Some(status) = line.strip_prefix("Status:") {
            active = Some(status.trim().eq_ignore_ascii_case("active"));
        } else if let Some(defaults) = line.strip_prefix("Default:") {
            default_in = defaults
                .split(',')
                .find(|d| d.contains("(incoming)"))
                .and_then(|d| d.split_whitespace().next())
                .map(str::to_ascii_lowercase);
        } else if line.starts_with("--") {
            in_rules = true;
        } else if in_rules && !line.is_empty() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(action_at) = fields
                .iter()
                .position(|f| matches!(*f, "ALLOW" | "DENY" | "REJECT" | "LIMIT"))
            else {
                continue;
            };
            // An outgoing rule says nothing about the phone's connection.
            if fields.get(action_at + 1) == Some(&"OUT") {
                continue;
            }
            let to = fields[..action_at].join(" ");
            let to = to.trim_end_matches(" (v6)");
            if !ufw_to_covers(to, port) {
                continue;
            }
            let rule = line.split_whitespace().collect::<Vec<_>>().join(" ");
            return match fields[action_at] {
                "ALLOW" | "LIMIT" => FirewallFinding::UfwAllows { rule },
                _ => FirewallFinding::UfwBlocks { rule },
            };
        }
    }
    match (active, default_in.as_deref()) {
        (Some(false), _) => FirewallFinding::UfwInactive,
        (Some(true), Some("allow")) => FirewallFinding::UfwAllows {
            rule: "default allow (incoming)".into(),
        },
        (Some(true), Some(d)) => FirewallFinding::UfwBlocks {
            rule: format!("default {d} (incoming)"),
        },
        _ => FirewallFinding::CannotTell {
            tool: "ufw",
            reason: "unreadable",
        },
    }
}

/// Whether an nft rule's `dport` part covers `port`: `dport 9999`, `dport { 22, 9999 }`,
/// `dport 9000-10000`.
fn nft_dport_covers(rule: &str, port: u16) -> bool {
    let Some(after) = rule.split("dport").nth(1) else {
        return false;
    };
    let after = after.trim_start();
    let spec = if let Some(set) = after.strip_prefix('{') {
        set.split('}').next().unwrap_or("")
    } else {
        after.split_whitespace().next().unwrap_or("")
    };
    spec.split(',').map(str::trim).any(|p| match p.split_once('-') {
        Some((a, b)) => matches!((a.trim().parse::<u16>(), b.trim().parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&port)),
        None => p.parse::<u16>() == Ok(port),
    })
}

/// Reads `nft list ruleset`: an `input` hook chain that drops by default (its policy, or
/// a final bare `drop`/`reject`), then an `accept` naming the port.
pub fn parse_nft(out: &str, port: u16) -> FirewallFinding {
    let mut blocking: Option<String> = None;
    let mut in_input = false;
    let mut allowed: Option<String> = None;
    for line in out.lines() {
        let line = line.trim();
        if line.starts_with("chain ") {
            in_input = false;
        }
        if line.contains("hook input") {
            in_input = true;
            if line.contains("policy drop") || line.contains("policy reject") {
                blocking.get_or_insert_with(|| line.to_owned());
            }
            continue;
        }
        let unconditional = line == "drop"
            || line == "reject"
            || line.starts_with("reject with")
            || line.starts_with("counter")
                && (line.ends_with(" drop") || line.ends_with(" reject"));
        if in_input && unconditional {
            blocking.get_or_insert_with(|| line.to_owned());
        }
        if line.ends_with("accept") && !line.contains("udp dport") && nft_dport_covers(line, port) {
            allowed.get_or_insert_with(|| line.to_owned());
        }
    }
    match (blocking, allowed) {
        (None, _) => FirewallFinding::NftNoInputPolicy,
        (Some(_), Some(rule)) => FirewallFinding::NftAllows { rule },
        (Some(chain), None) => FirewallFinding::NftProbablyBlocks { chain },
    }
}

impl fmt::Display for FirewallFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FirewallFinding::UfwInactive => f.write_str("ufw is installed but inactive"),
            FirewallFinding::UfwAllows { rule } => write!(f, "ufw lets the port in ({rule})"),
            FirewallFinding::UfwBlocks { rule } => write!(
                f,
                "ufw blocks the port ({rule}); allow it with: sudo ufw allow <port>/tcp"
            ),
            FirewallFinding::NftNoInputPolicy => {
                f.write_str("nftables: no input chain drops connections by default")
            }
            FirewallFinding::NftAllows { rule } => {
                write!(f, "nftables drops by default but accepts the port ({rule})")
            }
            FirewallFinding::NftProbablyBlocks { chain } => write!(
                f,
                "nftables probably blocks the port: the input chain drops by default ({chain}) \
                 and no rule accepts it"
            ),
            FirewallFinding::CannotTell { tool, reason } => {
                let why = match *reason {
                    "not_installed" => "not installed",
                    "needs_admin" => {
                        "needs administrator rights to read (run the doctor with sudo to see it)"
                    }
                    "timed_out" => "did not answer in time",
                    "unsupported_platform" => "no firewall check on this platform",
                    _ => "its answer could not be read",
                };
                write!(f, "{tool}: cannot tell ({why})")
            }
        }
    }
}

impl fmt::Display for FirewallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            FirewallVerdict::Blocked => "blocks the port",
            FirewallVerdict::Open => "lets the port in",
            FirewallVerdict::CannotTell => "cannot tell",
        };
        write!(f, "firewall (port {}): {verdict}", self.port)?;
        for finding in &self.findings {
            write!(
                f,
                "\n  - {}",
                finding
                    .to_string()
                    .replace("<port>", &self.port.to_string())
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UFW_ACTIVE: &str = "\
Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), disabled (routed)
New profiles: skip

To                         Action      From
--                         ------      ----
22/tcp                     ALLOW IN    Anywhere
9000:9100/tcp              ALLOW IN    Anywhere
8080                       DENY IN     Anywhere
53/udp                     ALLOW IN    Anywhere
22/tcp (v6)                ALLOW IN    Anywhere (v6)
";

    #[test]
    fn ufw_rules_then_the_default_decide() {
        assert!(
            matches!(parse_ufw(UFW_ACTIVE, 9050), FirewallFinding::UfwAllows { rule } if rule.starts_with("9000:9100/tcp"))
        );
        assert!(
            matches!(parse_ufw(UFW_ACTIVE, 8080), FirewallFinding::UfwBlocks { rule } if rule.starts_with("8080"))
        );
        assert_eq!(
            parse_ufw(UFW_ACTIVE, 9999),
            FirewallFinding::UfwBlocks {
                rule: "default deny (incoming)".into()
            }
        );
        // A UDP rule does not let a WebSocket in.
        assert!(matches!(
            parse_ufw(UFW_ACTIVE, 53),
            FirewallFinding::UfwBlocks { .. }
        ));
        assert_eq!(
            parse_ufw("Status: inactive\n", 9999),
            FirewallFinding::UfwInactive
        );
        let allow_all = UFW_ACTIVE.replace("deny (incoming)", "allow (incoming)");
        assert!(matches!(
            parse_ufw(&allow_all, 9999),
            FirewallFinding::UfwAllows { .. }
        ));
        let lan = "Status: active\nDefault: deny (incoming), allow (outgoing)\n\nTo Action From\n-- ------ ----\nAnywhere ALLOW IN 192.168.1.0/24\n";
        assert!(matches!(
            parse_ufw(lan, 9999),
            FirewallFinding::UfwAllows { .. }
        ));
        assert!(matches!(
            parse_ufw("ERROR: You need to be root to run this script", 9999),
            FirewallFinding::CannotTell { .. }
        ));
    }

    const NFT_DROP: &str = "\
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif \"lo\" accept
		tcp dport { 22, 9999 } accept
		tcp dport 9000-9100 accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
";

    #[test]
    fn nft_policy_and_accepts_decide() {
        assert!(matches!(
            parse_nft(NFT_DROP, 9999),
            FirewallFinding::NftAllows { .. }
        ));
        assert!(matches!(
            parse_nft(NFT_DROP, 9050),
            FirewallFinding::NftAllows { .. }
        ));
        assert!(matches!(
            parse_nft(NFT_DROP, 8080),
            FirewallFinding::NftProbablyBlocks { .. }
        ));
        let accept = NFT_DROP.replace(
            "hook input priority filter; policy drop;",
            "hook input priority filter; policy accept;",
        );
        assert_eq!(parse_nft(&accept, 8080), FirewallFinding::NftNoInputPolicy);
        // firewalld's style: policy accept, then a final reject.
        let firewalld = "table inet firewalld {\n chain filter_INPUT {\n  type filter hook input priority filter + 10; policy accept;\n  tcp dport 22 accept\n  reject with icmpx admin-prohibited\n }\n}\n";
        assert!(matches!(
            parse_nft(firewalld, 9999),
            FirewallFinding::NftProbablyBlocks { .. }
        ));
        assert!(matches!(
            parse_nft(firewalld, 22),
            FirewallFinding::NftAllows { .. }
        ));
        assert_eq!(parse_nft("", 9999), FirewallFinding::NftNoInputPolicy);
    }

    #[test]
    fn verdicts_and_words() {
        let cannot = FirewallFinding::CannotTell {
            tool: "ufw",
            reason: "needs_admin",
        };
        let r = FirewallReport::from_findings(9999, vec![cannot.clone()]);
        assert_eq!(r.verdict, FirewallVerdict::CannotTell);
        assert!(r
            .to_string()
            .contains("ufw: cannot tell (needs administrator rights"));
        let r = FirewallReport::from_findings(
            9999,
            vec![cannot.clone(), FirewallFinding::NftNoInputPolicy],
        );
        assert_eq!(r.verdict, FirewallVerdict::Open);
        let blocked = FirewallFinding::UfwBlocks {
            rule: "default deny (incoming)".into(),
        };
        let r =
            FirewallReport::from_findings(9999, vec![blocked, FirewallFinding::NftNoInputPolicy]);
        assert_eq!(r.verdict, FirewallVerdict::Blocked);
        assert!(r.to_string().contains("sudo ufw allow 9999/tcp"), "{r}");
        let json = serde_json::to_value(&cannot).unwrap();
        assert_eq!(json["kind"], "cannot_tell");
        assert_eq!(json["params"]["reason"], "needs_admin");
    }

    #[test]
    fn the_real_check_never_fails() {
        // Whatever this machine has: an answer, never an error or a prompt.
        let r = check(9999);
        assert!(!r.findings.is_empty());
    }
}
