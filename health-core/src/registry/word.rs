//! The probe word: one `u64` per probe that holds everything a probe read needs when the
//! probe has no timed member, so that read is one atomic load and a compare.
//!
//! ```text
//!  63        62         61        60        59..56   55..28           27..0
//! LATCHED | DRAINING | PENDING | STOPPED | unused | warning members | failing members
//! ```
//!
//! - The counts: how many members are in each class. A member moves between classes with
//!   one wrapping add of a packed delta; the word is `fail + (warn << 28) + flags` taken mod
//!   2^64, and adding `(-1) + (1 << 28)` is exact in that arithmetic as long as both true
//!   counts stay in `0..2^28`, which holds because there are at most [`MAX_MEMBERS`]
//!   members and each one's contribution is changed by one owner at a time, in order (see
//!   `slot.rs`). The flags above the counts are never carried into or borrowed from.
//! - `PENDING` (startup and readiness words): the startup probe has members and has not
//!   latched yet. A read that finds it, and nothing that fails anyway, evaluates the latch.
//! - `LATCHED` (startup word): the startup probe passed once; it passes for good.
//! - `DRAINING` (readiness word): shutdown began; readiness fails for good.
//! - `STOPPED` (readiness word, with `DRAINING`): the server stopped accepting.

use crate::status::Outcome;

/// Bits per count.
const COUNT_BITS: u32 = 28;
/// The most members a probe may have: the largest count the word holds.
pub(crate) const MAX_MEMBERS: usize = (1 << COUNT_BITS) - 1;

const FAIL_MASK: u64 = (1 << COUNT_BITS) - 1;
const WARN_SHIFT: u32 = COUNT_BITS;
const WARN_MASK: u64 = FAIL_MASK << WARN_SHIFT;

pub(crate) const STOPPED: u64 = 1 << 60;
pub(crate) const PENDING: u64 = 1 << 61;
pub(crate) const DRAINING: u64 = 1 << 62;
pub(crate) const LATCHED: u64 = 1 << 63;

/// The packed contribution of one member in class `outcome`.
pub(crate) const fn unit(outcome: Outcome) -> u64 {
    match outcome {
        Outcome::Pass => 0,
        Outcome::Warn => 1 << WARN_SHIFT,
        Outcome::Fail => 1,
    }
}

/// The packed delta that moves one member from `from` to `to`.
pub(crate) const fn delta(from: Outcome, to: Outcome) -> u64 {
    unit(to).wrapping_sub(unit(from))
}

/// What the word alone decides: the outcome, or `None` if the startup latch must be
/// evaluated first (the word is `PENDING` and nothing in it fails).
#[inline]
pub(crate) const fn decide(word: u64) -> Option<Outcome> {
    if word == 0 {
        // Every member passes and no flag is raised: the common case, first.
        Some(Outcome::Pass)
    } else if word & LATCHED != 0 {
        Some(Outcome::Pass)
    } else if word & (FAIL_MASK | DRAINING) != 0 {
        Some(Outcome::Fail)
    } else if word & PENDING != 0 {
        None
    } else if word & WARN_MASK != 0 {
        Some(Outcome::Warn)
    } else {
        Some(Outcome::Pass)
    }
}

/// The outcome of the members' counts and of shutdown, ignoring the start-up flags: for a
/// read that has already settled the latch.
pub(crate) const fn members(word: u64) -> Outcome {
    if word & (FAIL_MASK | DRAINING) != 0 {
        Outcome::Fail
    } else if word & WARN_MASK != 0 {
        Outcome::Warn
    } else {
        Outcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::{
        DRAINING, FAIL_MASK, LATCHED, PENDING, STOPPED, WARN_SHIFT, decide, delta, members, unit,
    };
    use crate::status::Outcome;

    fn split(word: u64) -> (u64, u64, u64) {
        (
            word & FAIL_MASK,
            (word >> WARN_SHIFT) & FAIL_MASK,
            word & (STOPPED | PENDING | DRAINING | LATCHED),
        )
    }

    #[test]
    fn deltas_compose_to_the_final_class_and_keep_the_flags() {
        // Walk a member through every pair of classes and check the packed word always
        // decodes to the counts a plain model holds, with the flags untouched.
        let classes = [Outcome::Pass, Outcome::Warn, Outcome::Fail];
        let flags = PENDING | DRAINING;
        let mut word = unit(Outcome::Fail) * 3 + unit(Outcome::Warn) * 2 + flags;
        let mut current = Outcome::Pass;
        for &next in classes.iter().cycle().take(20) {
            word = word.wrapping_add(delta(current, next));
            current = next;
            let expect_fail = 3 + u64::from(current == Outcome::Fail);
            let expect_warn = 2 + u64::from(current == Outcome::Warn);
            assert_eq!(
                split(word),
                (expect_fail, expect_warn, flags),
                "packed deltas must never borrow across the counts or into the flags"
            );
        }
    }

    #[test]
    fn the_word_decides_by_severity() {
        let warn = unit(Outcome::Warn);
        let fail = unit(Outcome::Fail);
        let rows = [
            (0, Some(Outcome::Pass), "nothing raised"),
            (warn, Some(Outcome::Warn), "a warning member"),
            (warn + fail, Some(Outcome::Fail), "a failing member"),
            (DRAINING, Some(Outcome::Fail), "draining fails readiness"),
            (DRAINING | STOPPED, Some(Outcome::Fail), "stopped too"),
            (PENDING, None, "the latch must be evaluated"),
            (PENDING | warn, None, "the latch must be evaluated"),
            (
                PENDING | fail,
                Some(Outcome::Fail),
                "fails whatever the latch",
            ),
            (
                LATCHED | PENDING | fail,
                Some(Outcome::Pass),
                "latched passes for good",
            ),
        ];
        for (word, expected, why) in rows {
            assert_eq!(decide(word), expected, "{why}");
        }
        assert_eq!(
            members(PENDING | warn),
            Outcome::Warn,
            "members ignore PENDING"
        );
        assert_eq!(members(DRAINING), Outcome::Fail, "members keep DRAINING");
    }
}
