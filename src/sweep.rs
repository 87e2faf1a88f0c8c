//! The sweep engine: for each target (account x kind x region), fetch the tasks of the lookback
//! window through the account's rate limiter, page by page, before the scrape's deadline; keep
//! what is needed to count each finished task exactly once.
//!
//! Each target's state sits behind an async mutex. A scrape that finds a sweep in flight waits
//! for it and then reuses its result (younger than `min_interval`), so concurrent scrapes cost
//! the API calls of one.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::{Instant, timeout_at};

use crate::config::{Config, Credentials};
use crate::metrics::{Metrics, TargetLabels};
use crate::providers::{ApiError, ApiRequest, ApiResponse, Page, PageQuery, Provider, TimeWindow};
use crate::task::Task;

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

/// The tasks of the lookback window, as of one successful sweep.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub tasks: Vec<Task>,
}

/// All targets of a config.
pub struct Engine {
    targets: Vec<Arc<Target>>,
}

impl Engine {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Engine, EngineError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("cloud-task-exporter/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| EngineError::Client(e.to_string()))?;
        let mut targets = Vec::new();
        let mut limiters: HashMap<(&str, &str), Arc<DefaultDirectRateLimiter>> = HashMap::new();
        for account in &config.accounts {
            let credentials = Arc::new(account.credentials.clone());
            for target in &account.targets {
                let provider = target.kind.provider();
                // One limiter per account and API, shared by its regions and by every target
                // entry of that kind: that is the scope of the providers' own limits. The first
                // entry's rate_limit sets it.
                let limiter = limiters
                    .entry((&account.name, provider.kind()))
                    .or_insert_with(|| Arc::new(limiter(target.rate_limit)))
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
                    let labels = TargetLabels {
                        account: account.name.clone(),
                        provider: provider.kind().to_owned(),
                        region: region.clone(),
                    };
                    metrics.register_target(&labels);
                    targets.push(Arc::new(Target {
                        labels,
                        provider,
                        endpoint,
                        credentials: credentials.clone(),
                        instance_ids: target.instance_ids.iter().cloned().collect(),
                        task_types: target.task_types.iter().cloned().collect(),
                        limiter: limiter.clone(),
                        client: client.clone(),
                        metrics: metrics.clone(),
                        lookback: config.global.lookback,
                        min_interval: config.global.min_interval,
                        state: tokio::sync::Mutex::new(TargetState::default()),
                    }));
                }
            }
        }
        Ok(Engine { targets })
    }

    pub fn targets(&self) -> &[Arc<Target>] {
        &self.targets
    }

    /// Sweeps every target concurrently and returns each one's report, in config order, by
    /// `deadline`: a target still running then reports a timeout.
    pub async fn collect(&self, deadline: Instant) -> Vec<(TargetLabels, Arc<SweepReport>)> {
        let mut set = tokio::task::JoinSet::new();
        for (index, target) in self.targets.iter().enumerate() {
            let target = target.clone();
            set.spawn(async move { (index, target.report(deadline).await) });
        }
        let mut reports: Vec<Option<Arc<SweepReport>>> = vec![None; self.targets.len()];
        while let Some(joined) = set.join_next().await {
            if let Ok((index, report)) = joined {
                reports[index] = Some(report);
            }
        }
        self.targets
            .iter()
            .zip(reports)
            .map(|(target, report)| {
                let report = report.unwrap_or_else(|| {
                    Arc::new(SweepReport::failed(
                        ApiError::Timeout,
                        Utc::now(),
                        Duration::ZERO,
                        None,
                    ))
                });
                (target.labels.clone(), report)
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
    pub labels: TargetLabels,
    provider: &'static dyn Provider,
    endpoint: reqwest::Url,
    credentials: Arc<Credentials>,
    instance_ids: HashSet<String>,
    task_types: HashSet<String>,
    limiter: Arc<DefaultDirectRateLimiter>,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    lookback: Duration,
    min_interval: Duration,
    state: tokio::sync::Mutex<TargetState>,
}

#[derive(Default)]
struct TargetState {
    last: Option<(Instant, Arc<SweepReport>)>,
    /// Finished tasks already seen, by id and instance, with their start time for pruning:
    /// the memory of `cloud_task_finished_total`, bounded by the lookback window.
    finished_seen: HashMap<(String, String), DateTime<Utc>>,
    /// Whether the first successful sweep has happened: what it finds finished is the
    /// baseline, not news.
    baseline_taken: bool,
    last_success: Option<DateTime<Utc>>,
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
}

impl Target {
    /// The last sweep's report, unless a sweep is running right now.
    pub fn last_report(&self) -> Option<Arc<SweepReport>> {
        let state = self.state.try_lock().ok()?;
        state.last.as_ref().map(|(_, report)| report.clone())
    }

    /// A report no older than `min_interval`: the last one, or a new sweep's.
    pub async fn report(&self, deadline: Instant) -> Arc<SweepReport> {
        let started_at = Utc::now();
        let started = Instant::now();
        let Ok(mut state) = timeout_at(deadline, self.state.lock()).await else {
            return Arc::new(SweepReport::failed(
                ApiError::Timeout,
                started_at,
                started.elapsed(),
                None,
            ));
        };
        if let Some((at, report)) = &state.last {
            if at.elapsed() < self.min_interval {
                return report.clone();
            }
        }
        let window = TimeWindow {
            start: started_at - self.lookback,
            end: started_at,
        };
        let report = match self.fetch_window(window, deadline).await {
            Ok(tasks) => {
                state.count_newly_finished(&tasks, window.start, &self.labels, &self.metrics);
                state.last_success = Some(Utc::now());
                SweepReport {
                    result: Ok(Snapshot { tasks }),
                    started_at,
                    duration: started.elapsed(),
                    last_success: state.last_success,
                }
            }
            Err(error) => {
                tracing::warn!(
                    account = %self.labels.account,
                    provider = %self.labels.provider,
                    region = %self.labels.region,
                    outcome = %error.outcome(),
                    request_id = error.request_id().unwrap_or("none"),
                    error = %error,
                    "sweep failed"
                );
                SweepReport::failed(error, started_at, started.elapsed(), state.last_success)
            }
        };
        let report = Arc::new(report);
        state.last = Some((started, report.clone()));
        report
    }

    /// Every task that started in `window`, page by page, filtered by the target's
    /// `instance_ids` and `task_types`.
    async fn fetch_window(
        &self,
        window: TimeWindow,
        deadline: Instant,
    ) -> Result<Vec<Task>, ApiError> {
        let limit = self.provider.max_page_size();
        // A task naming several instances (CDB) is one entry per instance, with one id.
        let mut by_key: HashMap<(String, String), Task> = HashMap::new();
        let mut offset = 0;
        loop {
            let page = self.fetch_page(window, offset, limit, deadline).await?;
            let read = page.tasks.len() as u64 + page.skipped;
            for task in page.tasks {
                if self.wanted(&task) {
                    by_key.insert((task.id.clone(), task.instance_id.clone()), task);
                }
            }
            offset += u64::from(limit);
            // An empty page ends the walk even if TotalCount promised more.
            if offset >= page.total || read == 0 {
                break;
            }
        }
        let mut tasks: Vec<Task> = by_key.into_values().collect();
        tasks.sort_by(|a, b| {
            (a.start_time, &a.id, &a.instance_id).cmp(&(b.start_time, &b.id, &b.instance_id))
        });
        Ok(tasks)
    }

    fn wanted(&self, task: &Task) -> bool {
        (self.instance_ids.is_empty() || self.instance_ids.contains(&task.instance_id))
            && (self.task_types.is_empty() || self.task_types.contains(&task.task_type))
    }

    async fn fetch_page(
        &self,
        window: TimeWindow,
        offset: u64,
        limit: u32,
        deadline: Instant,
    ) -> Result<Page, ApiError> {
        let waiting = Instant::now();
        let ready = timeout_at(deadline, self.limiter.until_ready()).await;
        self.metrics
            .rate_limit_wait(&self.labels, waiting.elapsed().as_secs_f64());
        if ready.is_err() {
            return Err(ApiError::Timeout);
        }
        let request = self.provider.build_request(&PageQuery {
            region: &self.labels.region,
            endpoint: &self.endpoint,
            credentials: &self.credentials,
            window,
            offset,
            limit,
            now: Utc::now(),
        })?;
        let sent = Instant::now();
        let result = match timeout_at(deadline, send(&self.client, request)).await {
            Err(_) => Err(ApiError::Timeout),
            Ok(Err(error)) => Err(error),
            Ok(Ok(response)) => self.provider.parse_response(&ApiResponse {
                status: response.status,
                request_id: response.request_id.as_deref(),
                body: &response.body,
            }),
        };
        let outcome = match &result {
            Ok(_) => crate::providers::Outcome::Ok,
            Err(error) => error.outcome(),
        };
        self.metrics
            .api_request(&self.labels, outcome, sent.elapsed().as_secs_f64());
        if let Ok(page) = &result {
            if page.skipped > 0 {
                self.metrics.skipped_entries(&self.labels, page.skipped);
            }
            for note in &page.notes {
                log_once(self.provider.kind(), note, page.request_id.as_deref());
            }
        }
        result
    }
}

impl TargetState {
    /// Counts the finished tasks not seen before, except on the first sweep, whose finished
    /// tasks are the baseline; then forgets tasks that left the window.
    fn count_newly_finished(
        &mut self,
        tasks: &[Task],
        window_start: DateTime<Utc>,
        labels: &TargetLabels,
        metrics: &Metrics,
    ) {
        for task in tasks {
            metrics.task_seen(labels, task);
            if !task.status.is_finished() {
                continue;
            }
            let new = self
                .finished_seen
                .insert((task.id.clone(), task.instance_id.clone()), task.start_time)
                .is_none();
            if new && self.baseline_taken {
                metrics.task_finished(labels, task);
            }
        }
        self.baseline_taken = true;
        self.finished_seen.retain(|_, start| *start >= window_start);
    }
}

struct RawResponse {
    status: u16,
    request_id: Option<String>,
    body: bytes::Bytes,
}

async fn send(client: &reqwest::Client, request: ApiRequest) -> Result<RawResponse, ApiError> {
    let mut builder = client.request(request.method, request.url);
    for (name, value) in request.headers {
        // reqwest writes Host from the URL, the same value that was signed.
        if name != "Host" {
            builder = builder.header(name, value);
        }
    }
    let response = builder
        .body(request.body)
        .send()
        .await
        .map_err(network_error)?;
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.map_err(network_error)?;
    Ok(RawResponse {
        status,
        request_id,
        body,
    })
}

/// reqwest's message plus its causes, which say what actually went wrong (refused, DNS, TLS).
fn network_error(error: reqwest::Error) -> ApiError {
    if error.is_timeout() {
        return ApiError::Timeout;
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ApiError::Network(message)
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
