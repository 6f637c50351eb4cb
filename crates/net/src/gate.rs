//! Politeness: at most so many connections at once to one server address and to one network
//! (/24 for IPv4, /64 for IPv6). Real mail servers rate-limit connections per client (Postfix's
//! `smtpd_client_connection_count_limit`, greylisting on bursts); a scan of thousands of domains
//! on shared hosting would otherwise open dozens of sessions to one server and be refused or
//! blocked. One gate is shared by every run of a process (a scan, a server).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Entries kept before idle ones are dropped (each is one small semaphore).
const PRUNE_AT: usize = 4096;

/// Default connections at once to one address: 2, as a cautious mail client would.
pub const DEFAULT_PER_IP: usize = 2;
/// Default connections at once to one /24 (IPv4) or /64 (IPv6).
pub const DEFAULT_PER_NET: usize = 8;

#[derive(Debug)]
pub struct Gate {
    per_ip: usize,
    per_net: usize,
    slots: Mutex<HashMap<Key, Arc<Semaphore>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    Net(IpAddr),
}

/// Held while a connection is open; dropping it frees the slots.
#[derive(Debug)]
pub struct Permit {
    _net: Option<OwnedSemaphorePermit>,
    _ip: Option<OwnedSemaphorePermit>,
    /// How long the connection waited for its slots.
    pub waited: Duration,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new(DEFAULT_PER_IP, DEFAULT_PER_NET)
    }
}

impl Gate {
    /// Limits of at least one connection each; the network limit is never below the address one.
    pub fn new(per_ip: usize, per_net: usize) -> Self {
        let per_ip = per_ip.max(1);
        Self {
            per_ip,
            per_net: per_net.max(per_ip),
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_ip(&self) -> usize {
        self.per_ip
    }

    /// Waits for a slot for `ip` and its network. Always the network first, then the address:
    /// every caller takes them in the same order, so two can never hold one each and wait for
    /// the other's.
    pub async fn enter(&self, ip: IpAddr) -> Permit {
        let started = tokio::time::Instant::now();
        let net = self.semaphore(Key::Net(network_of(ip)), self.per_net);
        let ip_slot = self.semaphore(Key::Ip(ip), self.per_ip);
        // The semaphores are never closed, so acquiring cannot fail; should it, the
        // connection goes ahead unlimited rather than not at all.
        let net = net.acquire_owned().await.ok();
        let ip_slot = ip_slot.acquire_owned().await.ok();
        Permit {
            _net: net,
            _ip: ip_slot,
            waited: started.elapsed(),
        }
    }

    fn semaphore(&self, key: Key, permits: usize) -> Arc<Semaphore> {
        let Ok(mut slots) = self.slots.lock() else {
            return Arc::new(Semaphore::new(permits));
        };
        if slots.len() >= PRUNE_AT {
            // Idle: nobody holds a permit or a handle (the map's own Arc is the only one).
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(permits)))
            .clone()
    }

    /// Connections open or waiting right now for `ip` (for tests and metrics).
    pub fn in_use(&self, ip: IpAddr) -> usize {
        self.slots
            .lock()
            .ok()
            .and_then(|s| s.get(&Key::Ip(ip)).map(|sem| self.per_ip - sem.available_permits()))
            .unwrap_or(0)
    }
}

/// The /24 of an IPv4 address, the /64 of an IPv6 address.
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4([a, b, c, 0].into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_third_connection_to_one_address_waits_for_a_slot() {
        let gate = Gate::new(2, 8);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = gate.enter(ip).await;
        let _b = gate.enter(ip).await;
        assert_eq!(gate.in_use(ip), 2);
        let third = tokio::time::timeout(Duration::from_millis(50), gate.enter(ip)).await;
        assert!(third.is_err(), "a third slot must not be given while two are held");
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(500), gate.enter(ip)).await;
        assert!(third.is_ok());
        // Another address of another network is not held up.
        let other = tokio::time::timeout(Duration::from_millis(50), gate.enter("198.51.100.1".parse().unwrap())).await;
        assert!(other.is_ok());
    }

    #[tokio::test]
    async fn one_network_shares_its_limit_across_addresses() {
        let gate = Gate::new(2, 3);
        let held: Vec<Permit> = futures_join(&gate, &["192.0.2.1", "192.0.2.2", "192.0.2.3"]).await;
        let fourth = tokio::time::timeout(Duration::from_millis(50), gate.enter("192.0.2.4".parse().unwrap())).await;
        assert!(fourth.is_err(), "the /24 allows three at once");
        drop(held);
    }

    async fn futures_join(gate: &Gate, ips: &[&str]) -> Vec<Permit> {
        let mut out = Vec::new();
        for ip in ips {
            out.push(gate.enter(ip.parse().unwrap()).await);
        }
        out
    }

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(
            network_of("192.0.2.77".parse().unwrap()),
            "192.0.2.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            network_of("2001:db8:1:2:3::9".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
    }
}
