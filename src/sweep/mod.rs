//! The sweep engine: for each target (account x kind x region), bring its window of tasks up
//! to date through the account's rate limiter before the scrape's deadline, and count each
//! finished task exactly once.
//!
//! - Single flight: each target's state sits behind an async mutex. A scrape that finds a
//!   sweep in flight waits for it and then reuses its result (younger than `min_interval`), so
//!   concurrent scrapes cost the API calls of one.
//! - Incremental: [`window::TaskWindow`] keeps the tasks of the lookback window; after the
//!   first sweep only the range that can still change is asked for.
//! - `fetch`: the first page gives the total, the other pages are fetched in parallel through
//!   the limiter; throttling, 5xx and network errors are retried with backoff inside the
//!   deadline.

mod failure_log;
mod fetch;
mod observe;
pub mod window;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::{Instant, timeout_at};

use crate::cloud::Credentials;
use crate::config::Config;
use crate::providers::{ApiError, Outcome, Provider, TimeWindow};
use crate::task::Task;

use failure_log::{Entry, FailureLog, Signature};
pub use fetch::{FUTURE_TOLERANCE, MAX_BODY_BYTES, MAX_WINDOW_TASKS, REQUEST_TIMEOUT};
pub use observe::{Observer, TargetId};
pub use window::Snapshot;
use window::TaskWindow;

/// How far before the watermark an incremental sweep starts asking: tasks can become visible
/// a little after they start.
const OVERLAP: Duration = Duration::from_secs(120);

/// A scrape giving up on another scrape's sweep is a warning at most this often per target.
const WAIT_LOG_EVERY: Duration = Duration::from_secs(60);

/// A mutex whose holder panicked is still usable: what it guards is plain data.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How much earlier than the scrape's deadline the sweeps' own deadline is.
const SWEEP_MARGIN: Duration = Duration::from_millis(20);

/// Why an engine could not be built from a config.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("account {account}, {kind} in {region}: endpoint {endpoint:?} is not a URL: {reason}")]
    Endpoint {
        account: String,
        kind: &'static str,
        region: String,
        endpoint: String,
        reason: String,
    },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// The outcome of one sweep of one target, as the scrape and the landing page see it.
#[derive(Debug)]
pub struct SweepReport {
    pub result: Result<Snapshot, ApiError>,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    /// The end of the last successful sweep, this one or an earlier one.
    pub last_success: Option<DateTime<Utc>>,
}

/// All targets of a config.
pub struct Engine {
    targets: Vec<Arc<Target>>,
}

impl Engine {
    pub fn new(config: &Config, observer: Arc<dyn Observer>) -> Result<Engine, EngineError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("cloud-task-exporter/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| EngineError::Client(e.to_string()))?;
        let mut targets = Vec::new();
        let mut limiters: HashMap<(&str, &str), (Arc<DefaultDirectRateLimiter>, f64)> =
            HashMap::new();
        for account in &config.accounts {
            let credentials = Arc::new(account.credentials.clone());
            for target in &account.targets {
                let provider = target.kind.provider();
                // One limiter per account and API, shared by its regions and by every target
                // entry of that kind: that is the scope of the providers' own limits. The first
                // entry's rate_limit sets it.
                let (limiter, rate_limit) = limiters
                    .entry((&account.name, provider.kind()))
                    .or_insert_with(|| (Arc::new(limiter(target.rate_limit)), target.rate_limit))
                    .clone();
                for region in &target.regions {
                    let endpoint = target
                        .endpoint
                        .clone()
                        .unwrap_or_else(|| provider.default_endpoint(region))
                        .replace("{region}", region);
                    let endpoint =
                        reqwest::Url::parse(&endpoint).map_err(|e| EngineError::Endpoint {
                            account: account.name.clone(),
                            kind: provider.kind(),
                            region: region.clone(),
                            endpoint: endpoint.clone(),
                            reason: e.to_string(),
                        })?;
                    let id = TargetId {
                        account: account.name.clone(),
                        kind: provider.kind(),
                        region: region.clone(),
                    };
                    targets.push(Arc::new(Target {
                        id,
                        provider,
                        endpoint,
                        credentials: credentials.clone(),
                        instance_ids: target.instance_ids.iter().cloned().collect(),
                        task_types: target.task_types.iter().cloned().collect(),
                        limiter: limiter.clone(),
                        rate_limit,
                        client: client.clone(),
                        observer: observer.clone(),
                        lookback: config.global.lookback,
                        min_interval: config.global.min_interval,
                        state: tokio::sync::Mutex::new(TargetState::default()),
                        last_success: Mutex::new(None),
                        failures: Mutex::default(),
                        sweep_started: Mutex::default(),
                        wait_logged: Mutex::default(),
                    }));
                }
            }
        }
        Ok(Engine { targets })
    }

    pub fn targets(&self) -> &[Arc<Target>] {
        &self.targets
    }

    /// Takes over the task windows of `previous`'s targets that this engine has unchanged
    /// (same target, endpoint, credentials, filters and lookback), so a config reload costs
    /// the targets it did not touch no cold sweep and no new baseline. Returns how many were
    /// carried over; a target busy sweeping at that moment starts afresh.
    pub fn carry_over_from(&self, previous: &Engine) -> usize {
        let mut carried = 0;
        for target in &self.targets {
            let Some(old) = previous.targets.iter().find(|o| o.same_source(target)) else {
                continue;
            };
            let (Ok(mut new_state), Ok(mut old_state)) =
                (target.state.try_lock(), old.state.try_lock())
            else {
                continue;
            };
            new_state.window = std::mem::take(&mut old_state.window);
            *target
                .last_success
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = old.last_success();
            carried += 1;
        }
        carried
    }

    /// Sweeps every target concurrently and returns each one's report, in config order, by
    /// `deadline`: a target still running then reports a timeout, and its sweep is cancelled.
    pub async fn collect(&self, deadline: Instant) -> Vec<(TargetId, Arc<SweepReport>)> {
        // The sweeps stop a little before the deadline, so that one cut off there is
        // counted and reported as a timeout before the collection below gives up on it.
        let sweep_deadline = deadline.checked_sub(SWEEP_MARGIN).unwrap_or(deadline);
        let mut set = tokio::task::JoinSet::new();
        for (index, target) in self.targets.iter().enumerate() {
            let target = target.clone();
            set.spawn(async move { (index, target.report(sweep_deadline).await) });
        }
        let mut reports: Vec<Option<Arc<SweepReport>>> = vec![None; self.targets.len()];
        // Every sweep watches the deadline itself; this bounds the rest (a slow parse, a
        // starved runtime). Dropping the set at the end aborts whatever is left.
        let _ = timeout_at(deadline, async {
            while let Some(joined) = set.join_next().await {
                if let Ok((index, report)) = joined
                    && let Some(slot) = reports.get_mut(index)
                {
                    *slot = Some(report);
                }
            }
        })
        .await;
        self.targets
            .iter()
            .zip(reports)
            .map(|(target, report)| {
                let report = report.unwrap_or_else(|| Arc::new(target.timed_out(Utc::now())));
                (target.id.clone(), report)
            })
            .collect()
    }
}

fn limiter(rate_limit: f64) -> DefaultDirectRateLimiter {
    // Evenly spaced requests, no burst: the provider sees at most `rate_limit` per second over
    // any window.
    let period = Duration::from_secs_f64(1.0 / rate_limit);
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(NonZeroU32::MIN);
    RateLimiter::direct(quota)
}

/// One account's task API in one region.
pub struct Target {
    pub id: TargetId,
    provider: &'static dyn Provider,
    endpoint: reqwest::Url,
    credentials: Arc<Credentials>,
    instance_ids: HashSet<String>,
    task_types: HashSet<String>,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Requests per second of `limiter`, to tell how many pages fit before a deadline.
    rate_limit: f64,
    client: reqwest::Client,
    observer: Arc<dyn Observer>,
    lookback: Duration,
    min_interval: Duration,
    state: tokio::sync::Mutex<TargetState>,
    /// The end of the last successful sweep, readable while a sweep holds `state`.
    last_success: Mutex<Option<DateTime<Utc>>>,
    failures: Mutex<FailureLog>,
    /// When the sweep in flight (or the last one) started, readable while it holds `state`.
    sweep_started: Mutex<Option<Instant>>,
    /// When a scrape giving up on another's sweep was last logged as a warning.
    wait_logged: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct TargetState {
    last: Option<(Instant, Arc<SweepReport>)>,
    window: TaskWindow,
}

impl SweepReport {
    fn failed(
        error: ApiError,
        started_at: DateTime<Utc>,
        duration: Duration,
        last_success: Option<DateTime<Utc>>,
    ) -> Self {
        SweepReport {
            result: Err(error),
            started_at,
            duration,
            last_success,
        }
    }

    /// Whether a later scrape may show this report again instead of sweeping: successes and
    /// the provider's own errors may be (an auth error will not fix itself in seconds), a
    /// sweep cut short by another scrape's deadline may not.
    fn reusable(&self) -> bool {
        !matches!(self.result, Err(ApiError::Timeout))
    }
}

impl Target {
    /// The last sweep's report, unless a sweep is running right now.
    pub fn last_report(&self) -> Option<Arc<SweepReport>> {
        let state = self.state.try_lock().ok()?;
        state.last.as_ref().map(|(_, report)| report.clone())
    }

    /// Whether `other` asks the same API the same things, so that its window is valid here.
    fn same_source(&self, other: &Target) -> bool {
        self.id == other.id
            && self.endpoint == other.endpoint
            && self.credentials == other.credentials
            && self.instance_ids == other.instance_ids
            && self.task_types == other.task_types
            && self.lookback == other.lookback
    }

    fn last_success(&self) -> Option<DateTime<Utc>> {
        *self
            .last_success
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn timed_out(&self, started_at: DateTime<Utc>) -> SweepReport {
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

    fn wanted(&self, task: &Task) -> bool {
        (self.instance_ids.is_empty() || self.instance_ids.contains(&task.instance_id))
            && (self.task_types.is_empty() || self.task_types.contains(&task.task_type))
    }
}

/// Logs a parse note (unknown status, skipped entry) the first time it is seen, not on every
/// scrape. The memory of what was logged is capped.
fn log_once(kind: &str, note: &str, request_id: Option<&str>) {
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

/// Whether an error is worth another attempt: the provider asked us to slow down, failed on
/// its side, or the network did.
fn retryable(error: &ApiError) -> bool {
    matches!(
        error.outcome(),
        Outcome::Throttled | Outcome::ServerError | Outcome::NetworkError
    )
}
