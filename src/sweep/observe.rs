//! What the engine tells the outside while it works: a target's identity, and the events of
//! its sweeps as they happen (a request sent, a task finished), so that counters stay true
//! even for a sweep cut off at a deadline. The metrics implement [`Observer`]; the engine knows
//! nothing of labels or expositions.

use chrono::{DateTime, Utc};

use super::TaskRecord;
use crate::providers::Outcome;

/// One target: an account's task API (`kind`) in one region.
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct TargetId {
    pub account: String,
    /// The provider kind, e.g. `tencent_postgres`.
    pub kind: &'static str,
    pub region: String,
}

/// `ACCOUNT/KIND/REGION`, as `/probe?target=` and `/sd` name a target.
impl std::fmt::Display for TargetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.account, self.kind, self.region)
    }
}

impl TargetId {
    /// The parts of `ACCOUNT/KIND/REGION`: the kind and the region hold no `/`, so the account
    /// is everything before the last two.
    pub fn parse(text: &str) -> Option<(&str, &str, &str)> {
        let mut parts = text.rsplitn(3, '/');
        let region = parts.next().filter(|s| !s.is_empty())?;
        let kind = parts.next().filter(|s| !s.is_empty())?;
        let account = parts.next().filter(|s| !s.is_empty())?;
        Some((account, kind, region))
    }
}

/// Receives the events of the engine's sweeps, and of its accounts' credentials. Each call is
/// cheap and never blocks on I/O.
pub trait Observer: crate::credentials::Observer + Send + Sync {
    /// One API request answered (or given up on) with `outcome` after `seconds`.
    fn api_request(&self, target: &TargetId, outcome: Outcome, seconds: f64);
    /// Time spent waiting for the account's rate limiter before a request.
    fn rate_limit_wait(&self, target: &TargetId, seconds: f64);
    /// Entries of a page that were not usable tasks.
    fn skipped_entries(&self, target: &TargetId, entries: u64);
    /// A scrape reached its deadline waiting for a sweep another scrape had started.
    fn sweep_wait_timeout(&self, target: &TargetId);
    /// A task seen running before was seen finished, by a sweep that started `at`.
    fn task_finished(&self, target: &TargetId, task: &TaskRecord, at: DateTime<Utc>);
    /// An (instance, task type) had a task in the window of a sweep that started `at`.
    fn task_seen(&self, target: &TargetId, instance_id: &str, task_type: &str, at: DateTime<Utc>);
    /// A sweep succeeded with its window starting at `window_start`: what was last seen
    /// before it is gone from the window.
    fn window_moved(&self, target: &TargetId, window_start: DateTime<Utc>);
}
