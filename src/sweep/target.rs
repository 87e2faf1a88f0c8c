//! One target: its state between scrapes (the task window, the last report), how a scrape
//! gets a report from it (single flight, reuse within `min_interval`, a new sweep), and what
//! its sweeps write to the log.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::DefaultDirectRateLimiter;
use tokio::time::{Instant, timeout_at};

use super::failure_log::{Entry, FailureLog, Signature};
use super::window::TaskWindow;
use super::{Observer, SweepReport, TargetId, lock};
use crate::credentials::AccountCredentials;
use crate::providers::{ApiError, Provider, TimeWindow};
use crate::task::Task;

/// How far before the watermark an incremental sweep starts asking: tasks can become visible
/// a little after they start.
const OVERLAP: Duration = Duration::from_secs(120);

/// A scrape giving up on another scrape's sweep is a warning at most this often per target.
const WAIT_LOG_EVERY: Duration = Duration::from_secs(60);

/// One account's task API in one region.
pub struct Target {
    pub id: TargetId,
    pub(super) provider: &'static dyn Provider,
    pub(super) endpoint: reqwest::Url,
    pub(super) credentials: Arc<AccountCredentials>,
    pub(super) instance_ids: HashSet<String>,
    pub(super) task_types: HashSet<String>,
    pub(super) limiter: Arc<DefaultDirectRateLimiter>,
    /// Turns to have a request in flight, shared like `limiter`: see [`super::MAX_IN_FLIGHT`].
    pub(super) in_flight: Arc<tokio::sync::Semaphore>,
    /// Requests per second of `limiter`, to tell how many pages fit before a deadline.
    pub(super) rate_limit: f64,
    pub(super) client: reqwest::Client,
    pub(super) observer: Arc<dyn Observer>,
    pub(super) lookback: Duration,
    pub(super) min_interval: Duration,
    pub(super) state: tokio::sync::Mutex<TargetState>,
    /// The end of the last successful sweep, readable while a sweep holds `state`.
    pub(super) last_success: Mutex<Option<DateTime<Utc>>>,
    pub(super) failures: Mutex<FailureLog>,
    /// When the sweep in flight (or the last one) started, readable while it holds `state`.
    pub(super) sweep_started: Mutex<Option<Instant>>,
    /// When a scrape giving up on another's sweep was last logged as a warning.
    pub(super) wait_logged: Mutex<Option<Instant>>,
}

#[derive(Default)]
pub(super) struct TargetState {
    pub(super) last: Option<(Instant, Arc<SweepReport>)>,
    pub(super) window: TaskWindow,
}

impl Target {
    /// The provider whose API this target asks.
    pub fn provider(&self) -> &'static dyn Provider {
        self.provider
    }

    /// The last sweep's report, unless a sweep is running right now.
    pub fn last_report(&self) -> Option<Arc<SweepReport>> {
        let state = self.state.try_lock().ok()?;
        state.last.as_ref().map(|(_, report)| report.clone())
    }

    /// Whether `other` asks the same API the same things, so that its window is valid here.
    pub(super) fn same_source(&self, other: &Target) -> bool {
        self.id == other.id
            && self.endpoint == other.endpoint
            && self.credentials.same_as(&other.credentials)
            && self.instance_ids == other.instance_ids
            && self.task_types == other.task_types
            && self.lookback == other.lookback
    }

    pub(super) fn last_success(&self) -> Option<DateTime<Utc>> {
        *self
            .last_success
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn timed_out(&self, started_at: DateTime<Utc>) -> SweepReport {
        let duration = (Utc::now() - started_at).to_std().unwrap_or_default();
        SweepReport::failed(ApiError::Timeout, started_at, duration, self.last_success())
    }

    /// A report no older than `min_interval`: the last one, or a new sweep's.
    pub async fn report(&self, deadline: Instant) -> Arc<SweepReport> {
        let started_at = Utc::now();
        let started = Instant::now();
        let Ok(mut state) = timeout_at(deadline, self.state.lock()).await else {
            self.gave_up_waiting();
            return Arc::new(self.timed_out(started_at));
        };
        if let Some((at, report)) = &state.last
            && at.elapsed() < self.min_interval
            && report.reusable()
        {
            return report.clone();
        }
        *lock(&self.sweep_started) = Some(started);
        let window_start = started_at - self.lookback;
        let from = state.window.query_start(window_start, started_at, OVERLAP);
        let query = TimeWindow {
            start: from,
            end: started_at,
        };
        let report = match self.fetch_window(query, deadline).await {
            Ok(tasks) => {
                for task in state.window.merge(from, tasks) {
                    self.observer.task_finished(&self.id, &task, started_at);
                }
                state.window.prune(window_start);
                let snapshot = state.window.snapshot();
                for (instance_id, task_type) in snapshot.counts.keys() {
                    self.observer
                        .task_seen(&self.id, instance_id, task_type, started_at);
                }
                // Series of instances and task types gone from the window for a lookback.
                self.observer.window_moved(&self.id, window_start);
                let now = Utc::now();
                *self
                    .last_success
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(now);
                SweepReport {
                    result: Ok(snapshot),
                    started_at,
                    duration: started.elapsed(),
                    last_success: Some(now),
                }
            }
            Err(error) => {
                self.log_failure(&error);
                SweepReport::failed(error, started_at, started.elapsed(), self.last_success())
            }
        };
        if report.result.is_ok() {
            self.log_success();
        }
        let report = Arc::new(report);
        state.last = Some((started, report.clone()));
        report
    }

    /// A scrape that reached its deadline waiting for another scrape's sweep is counted, and
    /// logged at most once a minute per target (`cloud_task_sweep_wait_timeouts_total` has them all).
    fn gave_up_waiting(&self) {
        self.observer.sweep_wait_timeout(&self.id);
        let now = Instant::now();
        {
            // Every one is counted; a warning at most every WAIT_LOG_EVERY says it is happening.
            let mut last = lock(&self.wait_logged);
            if last.is_some_and(|at| now.duration_since(at) < WAIT_LOG_EVERY) {
                return;
            }
            *last = Some(now);
        }
        let running_for_seconds = lock(&self.sweep_started).map(|at| at.elapsed().as_secs_f64());
        let id = &self.id;
        tracing::warn!(
            account = %id.account,
            provider = id.kind,
            region = %id.region,
            running_for_seconds,
            "scrape gave up waiting for the sweep another scrape started; reported up 0"
        );
    }

    /// One line per failed sweep, unless the same failure was logged less than
    /// [`failure_log::SUMMARY_EVERY`] ago; then a summary line once per that period.
    fn log_failure(&self, error: &ApiError) {
        let entry = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .failed(Signature::of(error), Instant::now());
        let id = &self.id;
        let request_id = error.request_id().unwrap_or("none");
        let (message, repeats, failing_for_seconds) = match entry {
            Entry::Failed => ("sweep failed", None, None),
            Entry::StillFailing {
                repeats,
                for_how_long,
            } => (
                "sweep still failing the same way",
                Some(repeats),
                Some(for_how_long.as_secs()),
            ),
            Entry::Quiet | Entry::Recovered { .. } => {
                tracing::debug!(
                    account = %id.account,
                    provider = id.kind,
                    region = %id.region,
                    outcome = %error.outcome(),
                    request_id,
                    "sweep failed again (logged before)"
                );
                return;
            }
        };
        tracing::warn!(
            account = %id.account,
            provider = id.kind,
            region = %id.region,
            outcome = %error.outcome(),
            request_id,
            error = %error,
            repeats,
            failing_for_seconds,
            "{message}"
        );
    }

    fn log_success(&self) {
        let entry = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .succeeded(Instant::now());
        if let Entry::Recovered {
            failures,
            for_how_long,
        } = entry
        {
            tracing::info!(
                account = %self.id.account,
                provider = self.id.kind,
                region = %self.id.region,
                failed_sweeps = failures,
                failing_for_seconds = for_how_long.as_secs(),
                "sweep succeeded again"
            );
        }
    }

    pub(super) fn wanted(&self, task: &Task) -> bool {
        (self.instance_ids.is_empty() || self.instance_ids.contains(&task.instance_id))
            && (self.task_types.is_empty() || self.task_types.contains(&task.task_type))
    }
}
