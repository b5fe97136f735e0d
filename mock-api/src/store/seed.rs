//! Seed data: the ticker universe and N clients with portfolios, each a pure function of
//! the client id so every database (and every restart) holds the same clients.
//!
//! Positions in the eight load-profile tickers are large (tens of thousands of shares):
//! the platform's locustfile sells at random, and a healthy run must not run a client
//! out of shares. Buys are not limited by cash (the imitation extends margin), for the
//! same reason.

use crate::market::{self, LOAD_PROFILE_TICKERS, UNIVERSE};
use seeding::mix64;

const FIRST: &[&str] = &[
    "Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Gustav", "Hana", "Ivan", "Julia", "Kenji",
    "Lena", "Mateo", "Nadia", "Omar", "Priya",
];
const LAST: &[&str] = &[
    "Anderson", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Patel",
];
const RISK: &[&str] = &["conservative", "moderate", "aggressive"];

/// A client as seeded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeedClient {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub risk_profile: &'static str,
    pub cash_balance: f64,
    pub holdings: Vec<(&'static str, i64, f64)>,
}

/// The seeded client `id` (1-based).
pub(crate) fn client(id: i64) -> SeedClient {
    let r = |k: u64| mix64((id as u64).wrapping_mul(0x100_0000_01b3) ^ k);
    let first = FIRST[(r(1) % FIRST.len() as u64) as usize];
    let last = LAST[(r(2) % LAST.len() as u64) as usize];
    let mut holdings = Vec::new();
    for (i, t) in UNIVERSE.iter().enumerate() {
        let bits = r(100 + i as u64);
        let quantity = if i < LOAD_PROFILE_TICKERS {
            50_000 + (bits % 100_000) as i64
        } else if bits % 3 == 0 {
            100 + (bits % 5_000) as i64
        } else {
            continue;
        };
        let cost =
            market::round2(t.reference_price * (0.8 + 0.3 * ((bits >> 20) % 1000) as f64 / 1000.0));
        holdings.push((t.symbol, quantity, cost));
    }
    SeedClient {
        id,
        name: format!("{first} {last}"),
        email: format!(
            "{}.{}{id}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        ),
        risk_profile: RISK[(r(3) % RISK.len() as u64) as usize],
        cash_balance: 1_000_000.0 + (r(4) % 4_000_000) as f64,
        holdings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_clients_are_deterministic_and_hold_every_load_ticker() {
        assert_eq!(client(3), client(3));
        assert_ne!(client(3).email, client(4).email);
        for id in 1..=10 {
            let c = client(id);
            for t in &UNIVERSE[..LOAD_PROFILE_TICKERS] {
                let held = c.holdings.iter().find(|h| h.0 == t.symbol).map(|h| h.1);
                assert!(
                    held.is_some_and(|q| q >= 50_000),
                    "client {id} {}: {held:?}",
                    t.symbol
                );
            }
        }
    }
}
