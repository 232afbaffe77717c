//! Connection admission, shared by the SOCKET v2 and V4 listeners: a global cap, a
//! per-address limit and a reserve for addresses holding little, counted per relay over
//! all its addresses. Each admitted connection holds a [`Slot`] until its task ends.

use super::config::{RelayConfig, RESERVE_SHARE};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Live connection tasks (handshakes included), in all and by address.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

pub(crate) type SharedCounts = Arc<Mutex<Counts>>;

fn lock(c: &SharedCounts) -> MutexGuard<'_, Counts> {
    // Counter updates cannot panic half-way; a poisoned lock still holds valid counts.
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// One admitted connection's place in the counts, given back when its task ends.
pub(crate) struct Slot {
    counts: SharedCounts,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = lock(&self.counts);
        c.total -= 1;
        if let Some(n) = c.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    Cap,
    Reserve,
    PerAddress,
}

/// Admits a connection from `ip` or says why not.
pub(crate) fn admit(
    config: &RelayConfig,
    counts: &SharedCounts,
    ip: IpAddr,
) -> Result<Slot, Refusal> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let mut c = lock(counts);
    let held = c.by_ip.get(&ip).copied().unwrap_or(0);
    if held >= config.limit_for(ip) {
        return Err(Refusal::PerAddress);
    }
    if c.total >= config.max_connections {
        return Err(Refusal::Cap);
    }
    let open = config
        .max_connections
        .saturating_sub(config.reserved_connections);
    if c.total >= open && held >= RESERVE_SHARE {
        return Err(Refusal::Reserve);
    }
    c.total += 1;
    *c.by_ip.entry(ip).or_insert(0) += 1;
    drop(c);
    Ok(Slot {
        counts: counts.clone(),
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_for_addresses_holding_little() {
        let config = RelayConfig {
            max_connections: 4,
            reserved_connections: 2,
            max_per_loopback_address: usize::MAX,
            ..RelayConfig::default()
        };
        let counts = SharedCounts::default();
        let hog: IpAddr = "127.0.0.2".parse().unwrap();
        let phone: IpAddr = "127.0.0.3".parse().unwrap();
        let mut held: Vec<Slot> = (0..2)
            .map(|_| admit(&config, &counts, hog).unwrap())
            .collect();
        assert!(matches!(
            admit(&config, &counts, hog),
            Err(Refusal::Reserve)
        ));
        held.push(admit(&config, &counts, phone).unwrap());
        held.push(admit(&config, &counts, phone).unwrap());
        assert!(matches!(admit(&config, &counts, phone), Err(Refusal::Cap)));
        held.clear();
        assert_eq!(lock(&counts).total, 0);
        assert!(lock(&counts).by_ip.is_empty());
    }
}
