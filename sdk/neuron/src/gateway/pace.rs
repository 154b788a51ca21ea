//! The chain's height as the gateway follows it: when it was last read and how fast
//! blocks come, so a height that could not be read for a while is projected forward (a
//! voucher is judged against the height the chain has likely reached, not the last one
//! seen, and a channel near its expiry is refused in time).

use std::time::{Duration, Instant};

/// A height older than this is stale: vouchers are refused until the chain is read again.
pub const STALE_HEIGHT: Duration = Duration::from_secs(20);

/// What the gateway knows of the chain's progress.
#[derive(Debug, Clone)]
pub struct Pace {
    /// When the height was last read.
    read: Instant,
    /// The last height seen to change, and when.
    changed: (u64, Instant),
    /// The observed time per block (none until the height has moved once).
    interval: Option<Duration>,
}

impl Pace {
    /// Starts at `height`, read at `now`.
    pub fn new(height: u64, now: Instant) -> Self {
        Pace {
            read: now,
            changed: (height, now),
            interval: None,
        }
    }

    /// The chain answered `height` at `now`.
    pub fn observe(&mut self, height: u64, now: Instant) {
        self.read = now;
        let (h0, t0) = self.changed;
        if height > h0 {
            let blocks = u32::try_from(height - h0).unwrap_or(u32::MAX);
            self.interval = Some(now.saturating_duration_since(t0) / blocks);
            self.changed = (height, now);
        }
    }

    /// The height to judge vouchers by at `now`: `height` (the last read) plus the blocks
    /// that have likely passed since the chain stopped answering (reads more than two
    /// `poll`s apart); `Err(age)` once the last read is older than [`STALE_HEIGHT`].
    pub fn projected(&self, height: u64, now: Instant, poll: Duration) -> Result<u64, Duration> {
        let age = now.saturating_duration_since(self.read);
        if age > STALE_HEIGHT {
            return Err(age);
        }
        let behind = age.saturating_sub(poll.saturating_mul(2));
        let blocks = match self.interval {
            Some(i) if !i.is_zero() => behind.as_nanos() / i.as_nanos(),
            _ => 0,
        };
        Ok(height.saturating_add(u64::try_from(blocks).unwrap_or(u64::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_height_not_read_for_a_while_is_projected_at_the_observed_pace() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let poll = ms(100);
        let mut p = Pace::new(100, t0);
        // No pace observed yet: the last height as is.
        assert_eq!(p.projected(100, t0 + ms(5_000), poll), Ok(100));
        p.observe(100, t0 + ms(100));
        p.observe(102, t0 + ms(400));
        // 200 ms per block; read within two polls: not projected.
        assert_eq!(p.projected(102, t0 + ms(600), poll), Ok(102));
        // Not read for 1.2 s: 1 s past two polls is five blocks.
        assert_eq!(p.projected(102, t0 + ms(1_600), poll), Ok(107));
        // Reading again resets the projection.
        p.observe(102, t0 + ms(1_700));
        assert_eq!(p.projected(102, t0 + ms(1_750), poll), Ok(102));
        let late = t0 + ms(1_700) + STALE_HEIGHT + ms(1);
        assert!(p.projected(102, late, poll).is_err());
    }
}
