//! The order of online writes: decided by the run, not by the row.
//!
//! A run with end date `E` states every key's row *as of* `E`. Ordering rows
//! by their own time (a key's last change point) lets a stale row survive a
//! correction: re-running an interval on corrected events can move a key's
//! last change earlier, and "newest row wins" would then keep the wrong row.
//! So every backend orders writes by [`WriteOrder`]: the run's as-of first,
//! and among runs of the same as-of the one started later (a corrected
//! re-run of the same interval replaces what it corrects). Runs of one
//! feature set never overlap (the run lock), so "started later" is "wrote
//! later".

use crate::error::{Error, Result};

/// What a run's write to the online store stands for: its place in the
/// order of runs, and whether its rows are every key's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunWrite {
    /// Where the run stands among the runs that wrote the store.
    pub order: WriteOrder,
    /// The run covered every event of the feature set's source up to its
    /// as-of, so its rows are the row of every key that has one as of then:
    /// a stored key it has no row for is removed, if the run's order
    /// replaces the stored row's (a key a later run wrote stays).
    pub covers_every_key: bool,
}

impl RunWrite {
    /// A write of some keys' rows only: no stored row is removed.
    pub fn some_keys(order: WriteOrder) -> Self {
        RunWrite {
            order,
            covers_every_key: false,
        }
    }

    /// A write of every key's row: stored keys without a row in it are
    /// removed where the order allows.
    pub fn every_key(order: WriteOrder) -> Self {
        RunWrite {
            order,
            covers_every_key: true,
        }
    }
}

/// Where a write stands in the order of runs. Compared as `(as_of, run)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriteOrder {
    /// The run's as-of: its end, microseconds since the epoch (UTC).
    pub as_of: i64,
    /// When the run started, microseconds since the epoch (UTC).
    pub run: i64,
}

/// Seconds from the epoch to 2020-01-01T00:00:00Z: the origin of
/// [`WriteOrder::encode`]'s run part, so 31 bits last until 2088.
const RUN_EPOCH_SECONDS: i64 = 1_577_836_800;
const RUN_BITS: u32 = 31;

impl WriteOrder {
    /// Whether a write in this order replaces a stored row written in
    /// `stored`: a row is never replaced by an earlier run's. A row stored
    /// without an order (written before orders were kept) is the oldest,
    /// replaced by any run.
    pub fn replaces(self, stored: Option<WriteOrder>) -> bool {
        stored.is_none_or(|s| self >= s)
    }

    /// One `i64` with the same order, for backends that keep a single
    /// write time per row (CQL `USING TIMESTAMP`, a sorted-set score):
    /// the as-of in whole seconds in the high bits, the run's start in
    /// whole seconds since 2020-01-01 in the low 31 bits. Two runs of the
    /// same as-of started within the same second encode equal; anything
    /// coarser than that keeps its order. Refuses an as-of before the epoch
    /// or after 2106 and a run start before 2020 or after 2088.
    pub fn encode(self) -> Result<i64> {
        let as_of = self.as_of.div_euclid(1_000_000);
        let run = self.run.div_euclid(1_000_000) - RUN_EPOCH_SECONDS;
        if !(0..(1 << 32)).contains(&as_of) || !(0..(1 << RUN_BITS)).contains(&run) {
            return Err(Error::Invalid(format!(
                "cannot order an online write as of {} µs from a run started at {} µs: \
                 the as-of must lie in 1970–2106 and the run start in 2020–2088",
                self.as_of, self.run
            )));
        }
        Ok((as_of << RUN_BITS) | run)
    }

    /// The order as stored beside a row: `as_of` then `run`, each 8 bytes
    /// big-endian.
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.as_of.to_be_bytes());
        out[8..].copy_from_slice(&self.run.to_be_bytes());
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes); `None` for bytes of another length.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let as_of = i64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let run = i64::from_be_bytes(bytes.get(8..)?.try_into().ok()?);
        Some(WriteOrder { as_of, run })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;
    // 2020-07-17T00:00:00Z and a run start on 2026-12-05, worked out by hand.
    const JULY_17: i64 = 1_594_944_000_000_000;
    const RUN: i64 = 1_796_428_800_000_000;

    fn order(as_of: i64, run: i64) -> WriteOrder {
        WriteOrder { as_of, run }
    }

    #[test]
    fn a_later_as_of_or_a_later_run_of_the_same_as_of_replaces() {
        let stored = Some(order(JULY_17, RUN));
        assert!(order(JULY_17, RUN).replaces(stored));
        assert!(order(JULY_17, RUN + 1).replaces(stored));
        assert!(order(JULY_17 + DAY, RUN - DAY).replaces(stored));
        assert!(!order(JULY_17 - DAY, RUN + DAY).replaces(stored));
        assert!(!order(JULY_17, RUN - 1_000_000).replaces(stored));
        assert!(order(0, 0).replaces(None));
    }

    #[test]
    fn the_encoding_keeps_the_order_to_the_second() {
        let a = order(JULY_17, RUN).encode().unwrap();
        // (1_594_944_000 << 31) | (1_796_428_800 - 1_577_836_800)
        assert_eq!(a, 3_425_116_159_694_304_000);
        let later_run = order(JULY_17, RUN + 1_000_000).encode().unwrap();
        let later_as_of = order(JULY_17 + DAY, RUN - DAY).encode().unwrap();
        assert!(a < later_run && later_run < later_as_of);
        assert!(order(-1, RUN).encode().is_err());
        assert!(order(JULY_17, 0).encode().is_err());
    }

    #[test]
    fn the_stored_bytes_read_back_and_nothing_else_does() {
        let o = order(-JULY_17, RUN);
        assert_eq!(WriteOrder::from_bytes(&o.to_bytes()), Some(o));
        assert_eq!(WriteOrder::from_bytes(&o.to_bytes()[..15]), None);
        assert_eq!(WriteOrder::from_bytes(&[0; 17]), None);
    }
}
