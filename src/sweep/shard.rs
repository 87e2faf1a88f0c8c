//! Shards: M replicas of the exporter split the targets between them, each one sweeping only
//! the targets whose stable hash falls in its shard (`--shard N --total-shards M`, the
//! kube-state-metrics convention).
//!
//! The hash is the first 8 bytes, big-endian, of the SHA-256 of `ACCOUNT/KIND/REGION`, modulo
//! M: the same on every machine, build and run, so replicas agree without talking to each
//! other, and the `/probe` target names what is hashed.

use sha2::{Digest, Sha256};

use super::TargetId;

/// The most replicas: more than targets would be pointless, and a bound keeps the number sane.
pub const MAX_SHARDS: u32 = 10_000;

/// This exporter's part of the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub ordinal: u32,
    pub total: u32,
}

impl Shard {
    /// Every target: one exporter.
    pub const ALL: Shard = Shard {
        ordinal: 0,
        total: 1,
    };

    /// Shard `ordinal` of `total`: `ordinal < total <= MAX_SHARDS`.
    pub fn new(ordinal: u32, total: u32) -> Result<Shard, String> {
        if total == 0 || total > MAX_SHARDS {
            return Err(format!(
                "--total-shards must be from 1 to {MAX_SHARDS}, not {total}"
            ));
        }
        if ordinal >= total {
            return Err(format!(
                "--shard must be below --total-shards ({total}): shards are numbered from 0, not {ordinal}"
            ));
        }
        Ok(Shard { ordinal, total })
    }

    /// Whether `target` is this shard's.
    pub fn owns(&self, target: &TargetId) -> bool {
        self.total <= 1 || shard_of(target, self.total) == self.ordinal
    }
}

/// The shard of `total` that `target` falls in.
pub fn shard_of(target: &TargetId, total: u32) -> u32 {
    let digest = Sha256::digest(target.to_string().as_bytes());
    let first = digest.first_chunk::<8>().copied().unwrap_or_default();
    (u64::from_be_bytes(first) % u64::from(total.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(account: &str, kind: &'static str, region: &str) -> TargetId {
        TargetId {
            account: account.into(),
            kind,
            region: region.into(),
        }
    }

    #[test]
    fn bounds_are_checked() {
        assert!(Shard::new(0, 1).is_ok());
        assert!(Shard::new(2, 3).is_ok());
        assert!(
            Shard::new(3, 3)
                .unwrap_err()
                .contains("below --total-shards")
        );
        assert!(Shard::new(0, 0).unwrap_err().contains("from 1 to"));
        assert!(Shard::new(0, MAX_SHARDS + 1).is_err());
    }

    #[test]
    fn every_target_falls_in_exactly_one_shard_and_the_split_is_even() {
        let targets: Vec<TargetId> = (0..3000)
            .map(|i| {
                target(
                    &format!("account-{}", i / 30),
                    "tencent_postgres",
                    &format!("region-{}", i % 30),
                )
            })
            .collect();
        let total = 3;
        let mut sizes = [0usize; 3];
        for t in &targets {
            let owners: Vec<u32> = (0..total)
                .filter(|n| Shard::new(*n, total).unwrap().owns(t))
                .collect();
            assert_eq!(owners.len(), 1, "{t}");
            sizes[owners[0] as usize] += 1;
        }
        for size in sizes {
            assert!((900..=1100).contains(&size), "{sizes:?}");
        }
    }

    /// The hash is part of the interface: replicas of different builds must agree.
    #[test]
    fn the_hash_is_stable() {
        assert_eq!(
            shard_of(&target("prod", "tencent_postgres", "ap-guangzhou"), 1000),
            shard_of(&target("prod", "tencent_postgres", "ap-guangzhou"), 1000)
        );
        let t = target("prod", "huawei_rds", "cn-north-4");
        let digest = Sha256::digest(b"prod/huawei_rds/cn-north-4");
        let expected = u64::from_be_bytes(digest[..8].try_into().unwrap()) % 7;
        assert_eq!(u64::from(shard_of(&t, 7)), expected);
    }
}
