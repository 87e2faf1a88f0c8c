//! What a target's failing sweeps write to the log: the first failure of a kind at once, the
//! same failure again only as a periodic summary, and the recovery. A target that fails the
//! same way on every scrape for a day writes a few hundred lines, not thousands.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::providers::{ApiError, Outcome};

/// How often a failure that keeps repeating is summarised.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(300);

/// What makes two failures the same for the log: the outcome and the provider's code (or the
/// gist of the error), not the request id, which differs every time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature(Outcome, String);

impl Signature {
    pub fn of(error: &ApiError) -> Signature {
        let gist = match error {
            ApiError::Provider { code, .. } => code.clone(),
            ApiError::BadResponse { detail, .. } => detail.clone(),
            ApiError::Network(message) | ApiError::Request(message) | ApiError::Slow(message) => {
                message.clone()
            }
            // One streak of missing credentials is one failure, whatever each refresh said.
            ApiError::Credentials(_) => "credentials".to_owned(),
            ApiError::Timeout => String::new(),
        };
        Signature(error.outcome(), gist)
    }
}

/// What to log for a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Nothing: the same failure was logged recently.
    Quiet,
    /// A failure unlike the last one (or the first).
    Failed,
    /// The same failure is still happening: `repeats` more since the last line about it,
    /// failing for `for_how_long`.
    StillFailing {
        repeats: u64,
        for_how_long: Duration,
    },
    /// A success after `failures` failed sweeps over `for_how_long`.
    Recovered {
        failures: u64,
        for_how_long: Duration,
    },
}

#[derive(Debug, Default)]
pub struct FailureLog {
    current: Option<Failing>,
}

#[derive(Debug)]
struct Failing {
    signature: Signature,
    since: Instant,
    last_logged: Instant,
    /// Failures of any kind since the last success.
    failures: u64,
    /// Failures not written since `last_logged`.
    unlogged: u64,
}

impl FailureLog {
    pub fn failed(&mut self, signature: Signature, now: Instant) -> Entry {
        match &mut self.current {
            Some(failing) if failing.signature == signature => {
                failing.failures += 1;
                failing.unlogged += 1;
                if now.duration_since(failing.last_logged) < SUMMARY_EVERY {
                    return Entry::Quiet;
                }
                let repeats = std::mem::take(&mut failing.unlogged);
                failing.last_logged = now;
                Entry::StillFailing {
                    repeats,
                    for_how_long: now.duration_since(failing.since),
                }
            }
            Some(failing) => {
                failing.signature = signature;
                failing.failures += 1;
                failing.unlogged = 0;
                failing.last_logged = now;
                Entry::Failed
            }
            None => {
                self.current = Some(Failing {
                    signature,
                    since: now,
                    last_logged: now,
                    failures: 1,
                    unlogged: 0,
                });
                Entry::Failed
            }
        }
    }

    pub fn succeeded(&mut self, now: Instant) -> Entry {
        match self.current.take() {
            None => Entry::Quiet,
            Some(failing) => Entry::Recovered {
                failures: failing.failures,
                for_how_long: now.duration_since(failing.since),
            },
        }
    }
}

/// Logs a parse note (unknown status, skipped entry) the first time it is seen, not on every
/// scrape. The memory of what was logged is capped.
pub fn log_once(kind: &str, note: &str, request_id: Option<&str>) {
    static LOGGED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    const MAX_REMEMBERED: usize = 4096;
    let key = format!("{kind}: {note}");
    let first = {
        let mut logged = LOGGED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let logged = logged.get_or_insert_with(HashSet::new);
        logged.len() < MAX_REMEMBERED && logged.insert(key)
    };
    if first {
        tracing::warn!(
            provider = kind,
            request_id = request_id.unwrap_or("none"),
            "{note}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttled() -> Signature {
        Signature(Outcome::Throttled, "RequestLimitExceeded".into())
    }

    #[test]
    fn a_repeated_failure_is_summarised_not_repeated() {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        let mut log = FailureLog::default();
        assert_eq!(log.failed(throttled(), at(0)), Entry::Failed);
        for second in (15..300).step_by(15) {
            assert_eq!(log.failed(throttled(), at(second)), Entry::Quiet);
        }
        assert_eq!(
            log.failed(throttled(), at(300)),
            Entry::StillFailing {
                repeats: 20,
                for_how_long: Duration::from_secs(300)
            }
        );
        assert_eq!(log.failed(throttled(), at(315)), Entry::Quiet);
        // Another kind of failure is news.
        let auth = Signature(Outcome::AuthError, "AuthFailure.SignatureFailure".into());
        assert_eq!(log.failed(auth.clone(), at(330)), Entry::Failed);
        assert_eq!(log.failed(auth, at(345)), Entry::Quiet);
        assert_eq!(
            log.succeeded(at(360)),
            Entry::Recovered {
                failures: 24,
                for_how_long: Duration::from_secs(360)
            }
        );
        assert_eq!(log.succeeded(at(375)), Entry::Quiet);
        assert_eq!(log.failed(throttled(), at(390)), Entry::Failed);
    }

    #[test]
    fn request_ids_do_not_make_failures_different() {
        let error = |id: &str| ApiError::Provider {
            outcome: Outcome::Throttled,
            code: "RequestLimitExceeded".into(),
            message: format!("slow down, request {id}"),
            http_status: 200,
            request_id: Some(id.into()),
        };
        assert_eq!(Signature::of(&error("a")), Signature::of(&error("b")));
    }
}
