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
    /// `stored`: a row is never replaced by an earlier run's.
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
}
