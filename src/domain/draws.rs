//! 双随机 draws, reproducible from a published seed. The algorithm, so that anyone can re-check
//! a plan with its stored seed and candidate lists (`onestop replay-plan`):
//!
//! 1. The random stream is ChaCha20 (`rand_chacha::ChaCha20Rng::from_seed`, 32-byte seed), read
//!    as little-endian `u64` words (`next_u64`).
//! 2. A number below `n` is the first word `x` with `x < u64::MAX - (u64::MAX % n)` (rejection,
//!    so there is no modulo bias), taken `x % n`.
//! 3. Merchants, without replacement, in candidate order (merchant id ascending): with total
//!    weight `W` of those left, draw `r < W` and take the first candidate whose running weight
//!    exceeds `r` (weight `1 + riskLevel` when risk-weighted, else 1).
//! 4. Then, for each drawn merchant in draw order, its inspectors from its own candidate list
//!    (officers ascending by id): `k` times, draw `r <` the number left and take (and remove)
//!    the `r`-th.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use uuid::Uuid;

/// The random stream of one plan.
pub struct Draw(ChaCha20Rng);

impl Draw {
    pub fn new(seed: [u8; 32]) -> Self {
        Self(ChaCha20Rng::from_seed(seed))
    }

    /// A number below `n` (step 2); `n` > 0.
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.0.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// `count` of the weighted candidates, without replacement (step 3).
    pub fn merchants(&mut self, candidates: &[(Uuid, u64)], count: usize) -> Vec<Uuid> {
        let mut left: Vec<(Uuid, u64)> = candidates.iter().copied().filter(|(_, w)| *w > 0).collect();
        let mut drawn = Vec::with_capacity(count);
        while drawn.len() < count && !left.is_empty() {
            let total: u64 = left.iter().map(|(_, w)| *w).sum();
            let r = self.below(total);
            let mut running = 0;
            let index = left.iter().position(|(_, w)| {
                running += *w;
                running > r
            });
            drawn.push(left.remove(index.unwrap_or(0)).0);
        }
        drawn
    }

    /// `count` distinct inspectors of one draw's candidates (step 4).
    pub fn inspectors(&mut self, candidates: &[Uuid], count: usize) -> Vec<Uuid> {
        let mut left = candidates.to_vec();
        let mut drawn = Vec::with_capacity(count);
        while drawn.len() < count && !left.is_empty() {
            let r = self.below(left.len() as u64) as usize;
            drawn.push(left.remove(r));
        }
        drawn
    }
}

/// A seed as stored and published (64 hex digits), and back.
pub fn seed_hex(seed: &[u8; 32]) -> String {
    hex::encode(seed)
}

pub fn parse_seed(hex_seed: &str) -> Option<[u8; 32]> {
    hex::decode(hex_seed).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_and_another_seed_differs() {
        let merchants: Vec<(Uuid, u64)> = ids(50).into_iter().map(|id| (id, 1)).collect();
        let first = Draw::new([7; 32]).merchants(&merchants, 10);
        assert_eq!(first, Draw::new([7; 32]).merchants(&merchants, 10));
        assert_ne!(first, Draw::new([8; 32]).merchants(&merchants, 10));
        let mut distinct = first.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "without replacement");
        let inspectors = Draw::new([7; 32]).inspectors(&ids(5), 3);
        assert_eq!(inspectors.len(), 3);
        assert!(inspectors.iter().all(|i| ids(5).contains(i)));
        assert_eq!(Draw::new([1; 32]).inspectors(&ids(2), 5).len(), 2, "never more than there are");
    }

    #[test]
    fn weights_make_risky_merchants_likelier() {
        let (risky, calm) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut picked = 0;
        for s in 0..400u32 {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&s.to_le_bytes());
            if Draw::new(seed).merchants(&[(risky, 4), (calm, 1)], 1) == [risky] {
                picked += 1;
            }
        }
        assert!((280..=360).contains(&picked), "weight 4 of 5 ≈ 320 of 400, got {picked}");
        assert_eq!(parse_seed(&seed_hex(&[9; 32])), Some([9; 32]));
        assert_eq!(parse_seed("zz"), None);
    }
}
