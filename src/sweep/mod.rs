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
pub mod shard;
mod target;
pub mod window;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::{Instant, timeout_at};

use crate::config::Config;
use crate::credentials::AccountCredentials;
use crate::providers::ApiError;

pub use fetch::{FUTURE_TOLERANCE, MAX_WINDOW_TASKS, REQUEST_TIMEOUT};
pub use observe::{Observer, TargetId};
pub use shard::Shard;
pub use target::Target;
use target::TargetState;
pub use window::{Snapshot, TaskRecord};

/// A mutex whose holder panicked is still usable: what it guards is plain data.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// At most this many requests to one account's API (its regions together, as its rate limit)
/// are in flight at once, waiting for the limiter included. The limiter spaces requests out,
/// but it does not bound how many are outstanding: at a high `rate_limit`, or when answers come
/// slowly, a cold sweep of a thousand regions would otherwise hold a connection and a page in
/// memory for each, and wake every waiter at each turn of the limiter. 64 allow 320 requests/s
/// at 200 ms each, far above the providers' published limits.
pub const MAX_IN_FLIGHT: usize = 64;

/// An account's API's rate limiter, turns in flight and rate limit.
type Limits = (
    Arc<DefaultDirectRateLimiter>,
    Arc<tokio::sync::Semaphore>,
    f64,
);

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

/// All targets of a config, and the credentials of its accounts.
pub struct Engine {
    targets: Vec<Arc<Target>>,
    accounts: Vec<Arc<AccountCredentials>>,
    shard: Shard,
}

impl Engine {
    /// Every target of `config`.
    pub fn new(config: &Config, observer: Arc<dyn Observer>) -> Result<Engine, EngineError> {
        Engine::new_sharded(config, observer, Shard::ALL)
    }

    /// The targets of `config` that fall in `shard`, and the credentials of their accounts.
    pub fn new_sharded(
        config: &Config,
        observer: Arc<dyn Observer>,
        shard: Shard,
    ) -> Result<Engine, EngineError> {
        Engine::build(config, observer, shard, None)
    }

    /// [`Engine::new_sharded`] for a reload: the accounts whose credentials come from the
    /// same place with the same settings keep those of `previous` (and their refresh), so a
    /// reload neither fetches them again nor loses them to a metadata service that is down.
    pub fn succeeding(
        previous: &Engine,
        config: &Config,
        observer: Arc<dyn Observer>,
        shard: Shard,
    ) -> Result<Engine, EngineError> {
        Engine::build(config, observer, shard, Some(previous))
    }

    fn build(
        config: &Config,
        observer: Arc<dyn Observer>,
        shard: Shard,
        previous: Option<&Engine>,
    ) -> Result<Engine, EngineError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("cloud-task-exporter/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            // A redirect would carry the session-token headers (X-TC-Token,
            // X-Security-Token, x-acs-security-token) to another host: the APIs never
            // redirect, so a 3xx is an answer, and an error.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EngineError::Client(e.to_string()))?;
        let mut targets = Vec::new();
        let mut accounts = Vec::new();
        let mut limiters: HashMap<(&str, &str), Limits> = HashMap::new();
        for account in &config.accounts {
            let id = |kind: &'static str, region: &str| TargetId {
                account: account.name.clone(),
                kind,
                region: region.to_owned(),
            };
            // An account with no target in this shard needs no credentials here.
            let mine = account.targets.iter().any(|target| {
                target
                    .regions
                    .iter()
                    .any(|region| shard.owns(&id(target.kind.provider().kind(), region)))
            });
            if !mine {
                continue;
            }
            let kept = previous.and_then(|previous| {
                previous
                    .accounts
                    .iter()
                    .find(|old| old.is(&account.name, &account.source, &account.credentials))
            });
            let credentials = match kept {
                Some(kept) => kept.clone(),
                None => AccountCredentials::new(
                    &account.name,
                    account.provider,
                    account.source.clone(),
                    account.credentials.clone(),
                    client.clone(),
                    observer.clone() as Arc<dyn crate::credentials::Observer>,
                ),
            };
            accounts.push(credentials.clone());
            for target in &account.targets {
                let provider = target.kind.provider();
                // One limiter per account and API, shared by its regions and by every target
                // entry of that kind: that is the scope of the providers' own limits. The first
                // entry's rate_limit sets it.
                let (limiter, in_flight, rate_limit) = limiters
                    .entry((&account.name, provider.kind()))
                    .or_insert_with(|| {
                        (
                            Arc::new(limiter(target.rate_limit)),
                            Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
                            target.rate_limit,
                        )
                    })
                    .clone();
                for region in &target.regions {
                    if !shard.owns(&id(provider.kind(), region)) {
                        continue;
                    }
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
                        in_flight: in_flight.clone(),
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
        Ok(Engine {
            targets,
            accounts,
            shard,
        })
    }

    /// The shard this engine serves.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The target named `ACCOUNT/KIND/REGION`, if this engine sweeps it.
    pub fn target(&self, name: &str) -> Option<&Arc<Target>> {
        let (account, kind, region) = TargetId::parse(name)?;
        self.targets
            .iter()
            .find(|t| t.id.account == account && t.id.kind == kind && t.id.region == region)
    }

    pub fn targets(&self) -> &[Arc<Target>] {
        &self.targets
    }

    /// Every account's credentials, in config order.
    pub fn accounts(&self) -> &[Arc<AccountCredentials>] {
        &self.accounts
    }

    /// The accounts whose temporary credentials expire, and when.
    pub fn credential_expiries(&self) -> Vec<(String, DateTime<Utc>)> {
        self.accounts
            .iter()
            .filter_map(|a| Some((a.account().to_owned(), a.expires_at()?)))
            .collect()
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
