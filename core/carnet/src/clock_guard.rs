//! Noticing a clock moved backwards.
//!
//! Certificates, credentials and trust lists are judged against the time; a phone whose clock
//! was set back could make an expired certificate look valid. The guard keeps the highest time
//! it has seen (a high-water mark) in the [`KeyVault`], outside any database that could be
//! rolled back with the clock, and reports when the clock is behind it.

use crate::{CarnetError, Clock, KeyVault};

/// How far behind the high-water mark the clock may be before it is reported as moved
/// backwards (network time corrections move clocks back by seconds, not minutes).
pub const CLOCK_TOLERANCE_MILLIS: i64 = 5 * 60 * 1000;
/// Vault entry holding the high-water mark, 8 bytes, big-endian milliseconds.
const HIGH_WATER_ENTRY: &str = "carnet.clock.high-water";

/// What the guard concluded about the platform clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStatus {
    /// The clock is at or after the latest time seen (within tolerance).
    Consistent,
    /// The clock is behind a time already seen: results that depend on time cannot be trusted.
    MovedBackwards {
        /// How far behind the latest time seen, in milliseconds.
        behind_by_millis: i64,
    },
    /// The clock is ahead of the latest time seen, but the new mark could not be kept (a full
    /// disk, a failing vault): the guard still holds at the older mark, and everything else
    /// works. Logged as a warning each time.
    MarkNotKept,
}

/// Compares the clock with the stored high-water mark and raises the mark when the clock is
/// ahead of it. The mark never goes down. Failing to raise it is never fatal: reading a
/// record on a full disk must work ([`ClockStatus::MarkNotKept`]).
pub(crate) fn check_clock(
    clock: &dyn Clock,
    vault: &dyn KeyVault,
) -> Result<ClockStatus, CarnetError> {
    let now = clock.now_unix_millis();
    let high_water = match vault.load(HIGH_WATER_ENTRY)? {
        None => None,
        Some(bytes) => {
            let bytes: [u8; 8] = bytes
                .try_into()
                .map_err(|_| CarnetError::CorruptVaultEntry {
                    name: HIGH_WATER_ENTRY,
                    reason: "expected 8 bytes",
                })?;
            Some(i64::from_be_bytes(bytes))
        }
    };
    match high_water {
        Some(mark) if now.saturating_add(CLOCK_TOLERANCE_MILLIS) < mark => {
            let behind_by_millis = mark - now;
            tracing::warn!(
                behind_by_seconds = behind_by_millis / 1000,
                "clock moved backwards"
            );
            Ok(ClockStatus::MovedBackwards { behind_by_millis })
        }
        Some(mark) if now <= mark => Ok(ClockStatus::Consistent),
        _ => match vault.store(HIGH_WATER_ENTRY, now.to_be_bytes().to_vec()) {
            Ok(()) => Ok(ClockStatus::Consistent),
            Err(error) => {
                tracing::warn!(%error, "the clock's high-water mark could not be kept");
                Ok(ClockStatus::MarkNotKept)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ManualClock, MemoryKeyVault};

    #[test]
    fn backwards_beyond_tolerance_is_reported_and_the_mark_stays() {
        let vault = MemoryKeyVault::new();
        let clock = ManualClock::at(1_000_000_000);
        assert_eq!(
            check_clock(&clock, &vault).unwrap(),
            ClockStatus::Consistent
        );
        clock.set(1_000_000_000 - CLOCK_TOLERANCE_MILLIS);
        assert_eq!(
            check_clock(&clock, &vault).unwrap(),
            ClockStatus::Consistent
        );
        clock.set(1_000_000_000 - CLOCK_TOLERANCE_MILLIS - 1);
        assert_eq!(
            check_clock(&clock, &vault).unwrap(),
            ClockStatus::MovedBackwards {
                behind_by_millis: CLOCK_TOLERANCE_MILLIS + 1
            }
        );
        assert_eq!(
            vault.load(HIGH_WATER_ENTRY).unwrap(),
            Some(1_000_000_000i64.to_be_bytes().to_vec())
        );
        clock.set(2_000_000_000);
        assert_eq!(
            check_clock(&clock, &vault).unwrap(),
            ClockStatus::Consistent
        );
        assert_eq!(
            vault.load(HIGH_WATER_ENTRY).unwrap(),
            Some(2_000_000_000i64.to_be_bytes().to_vec())
        );
    }

    /// A vault whose writes fail as on a full disk; reads work.
    struct FullVault(MemoryKeyVault);
    impl KeyVault for FullVault {
        fn store(&self, _: &str, _: Vec<u8>) -> Result<(), crate::PlatformError> {
            Err(crate::PlatformError::StorageFull("no space left".into()))
        }
        fn load(&self, name: &str) -> Result<Option<Vec<u8>>, crate::PlatformError> {
            self.0.load(name)
        }
        fn delete(&self, name: &str) -> Result<(), crate::PlatformError> {
            self.0.delete(name)
        }
    }

    #[test]
    fn a_mark_that_cannot_be_kept_is_reported_not_fatal() {
        let vault = FullVault(MemoryKeyVault::new());
        vault
            .0
            .store(HIGH_WATER_ENTRY, 1_000_000i64.to_be_bytes().to_vec())
            .unwrap();
        let clock = ManualClock::at(2_000_000);
        assert_eq!(
            check_clock(&clock, &vault).unwrap(),
            ClockStatus::MarkNotKept
        );
        // The older mark still guards.
        clock.set(1_000_000 - CLOCK_TOLERANCE_MILLIS - 1);
        assert!(matches!(
            check_clock(&clock, &vault).unwrap(),
            ClockStatus::MovedBackwards { .. }
        ));
    }

    #[test]
    fn a_damaged_mark_is_a_typed_error() {
        let vault = MemoryKeyVault::new();
        vault.store(HIGH_WATER_ENTRY, vec![1, 2, 3]).unwrap();
        let clock = ManualClock::at(5);
        assert!(matches!(
            check_clock(&clock, &vault),
            Err(CarnetError::CorruptVaultEntry {
                name: HIGH_WATER_ENTRY,
                ..
            })
        ));
    }
}
