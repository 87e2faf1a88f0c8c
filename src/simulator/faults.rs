//! Faults the simulator can inject per API, to test and benchmark the exporter against a
//! cloud that is slow, flaky, throttling, broken or silent.

use std::time::Duration;

/// What can go wrong with one API, set with [`super::Simulator::set_faults`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added before every answer.
    pub latency: Duration,
    /// Share (0 to 1) of requests answered with a server error, in the API's own form.
    pub server_errors: f64,
    /// Share (0 to 1) of requests answered with a throttling error.
    pub throttling: f64,
    /// Share (0 to 1) of requests answered with a truncated JSON body.
    pub malformed: f64,
    /// The next this many requests are throttled, whatever the shares say (for tests that
    /// must not depend on chance).
    pub throttle_next: u32,
    /// Never answer.
    pub hang: bool,
}

/// The fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    ServerError,
    Throttled,
    Malformed,
    Hang,
}

impl Faults {
    /// Decides this request's fate (and uses up one `throttle_next`).
    pub fn roll(&mut self, rng: &mut fastrand::Rng) -> Option<Injected> {
        if self.hang {
            return Some(Injected::Hang);
        }
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return Some(Injected::Throttled);
        }
        let roll = rng.f64();
        if roll < self.server_errors {
            Some(Injected::ServerError)
        } else if roll < self.server_errors + self.throttling {
            Some(Injected::Throttled)
        } else if roll < self.server_errors + self.throttling + self.malformed {
            Some(Injected::Malformed)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_respected_and_throttle_next_comes_first() {
        let mut rng = fastrand::Rng::with_seed(1);
        let mut faults = Faults {
            server_errors: 0.2,
            throttling: 0.1,
            malformed: 0.1,
            throttle_next: 2,
            ..Faults::default()
        };
        assert_eq!(faults.roll(&mut rng), Some(Injected::Throttled));
        assert_eq!(faults.roll(&mut rng), Some(Injected::Throttled));
        let rolls: Vec<_> = (0..10_000).map(|_| faults.roll(&mut rng)).collect();
        let share = |what| rolls.iter().filter(|r| **r == what).count() as f64 / 10_000.0;
        assert!((share(Some(Injected::ServerError)) - 0.2).abs() < 0.02);
        assert!((share(Some(Injected::Throttled)) - 0.1).abs() < 0.02);
        assert!((share(Some(Injected::Malformed)) - 0.1).abs() < 0.02);
        assert!((share(None) - 0.6).abs() < 0.02);
        assert_eq!(Faults::default().roll(&mut rng), None);
    }
}
