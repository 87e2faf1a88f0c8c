//! From the series to what a scrape receives: the per-scrape registry (task and target
//! gauges from this scrape's reports, the long-lived series, self-metrics), OpenMetrics
//! encoding, and the classic text format for scrapers that do not ask for OpenMetrics.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::labels::{
    AccountLabels, BuildLabels, DurationLabels, OutcomeLabels, StatusLabels, TargetLabels,
    TaskIdLabels,
};
use super::{Buckets, FloatGauge, Metrics};
use crate::process::ProcessCollector;
use crate::providers::Outcome;
use crate::sweep::{SweepReport, TargetId};
use crate::task::{Task, TaskStatus};

/// The content type of what [`Metrics::encode`] writes.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of [`to_text_format`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a scraper's `Accept` header asks for OpenMetrics (Prometheus does); everything
/// else (curl, promtool, older scrapers) gets the classic text format.
pub fn accepts_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        accept.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            params.next() == Some("application/openmetrics-text")
                && !params.any(|p| p.replace(' ', "") == "q=0")
        })
    })
}

/// Rewrites OpenMetrics text as the Prometheus 0.0.4 text format: a counter family is named
/// with its `_total` suffix in `HELP` and `TYPE`, and `# EOF` and `# UNIT` lines go. Samples
/// are the same in both formats.
pub fn to_text_format(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut pending_help: Option<&str> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(help) = line.strip_prefix("# HELP ") {
            pending_help = Some(help);
            continue;
        }
        if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let (name, kind) = declaration
                .split_once(' ')
                .unwrap_or((declaration, "untyped"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "unknown" => (name.to_owned(), "untyped"),
                other => (name.to_owned(), other),
            };
            if let Some(help) = pending_help.take() {
                let text = help.split_once(' ').map_or("", |(_, text)| text);
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `"cloud_task_finished"` and its help.
const FINISHED: (&str, &str) = (
    "cloud_task_finished",
    "Tasks that finished after the exporter started, each counted once",
);
/// `"cloud_task_duration_seconds"` and its help.
const DURATIONS: (&str, &str) = (
    "cloud_task_duration_seconds",
    "End minus start of the tasks counted in cloud_task_finished_total",
);
/// `"cloud_task_api_requests"` and its help.
const API_REQUESTS: (&str, &str) = (
    "cloud_task_api_requests",
    "API requests by outcome (ok, throttled, auth_error, client_error, server_error, timeout, network_error, bad_response)",
);
/// `"cloud_task_api_request_duration_seconds"` and its help.
const API_REQUEST_DURATION: (&str, &str) = (
    "cloud_task_api_request_duration_seconds",
    "Time from sending an API request to reading its whole answer",
);
/// `"cloud_task_api_pages"` and its help.
const API_PAGES: (&str, &str) = ("cloud_task_api_pages", "Pages of tasks read successfully");
/// `"cloud_task_skipped_entries"` and its help.
const SKIPPED_ENTRIES: (&str, &str) = (
    "cloud_task_skipped_entries",
    "Entries of API answers that could not be read as tasks and were skipped (each kind logged once)",
);
/// `"cloud_task_sweep_wait_timeouts"` and its help.
const SWEEP_WAIT_TIMEOUTS: (&str, &str) = (
    "cloud_task_sweep_wait_timeouts",
    "Scrapes that reached their deadline waiting for a sweep another scrape had started (the target reported up 0)",
);
/// `"cloud_task_series_dropped"` and its help.
const SERIES_DROPPED: (&str, &str) = (
    "cloud_task_series_dropped",
    "Per-task series (progress, start time) a scrape left out to stay within global.series, the most recently started first",
);

/// `"cloud_task_rate_limit_wait_seconds"` and its help.
const RATE_LIMIT_WAIT: (&str, &str) = (
    "cloud_task_rate_limit_wait_seconds",
    "Time spent waiting for the account's rate limiter",
);

impl Metrics {
    /// The whole exposition for one scrape.
    /// `expiries` are the accounts whose temporary credentials expire, and when.
    pub fn encode(
        &self,
        reports: &[(TargetId, Arc<SweepReport>)],
        expiries: &[(String, DateTime<Utc>)],
    ) -> String {
        self.release_deferred(None);
        let mut registry = Registry::default();
        self.register_task_gauges(&mut registry, reports);
        registry.register(FINISHED.0, FINISHED.1, self.finished.clone());
        registry.register(DURATIONS.0, DURATIONS.1, self.durations().0);
        register_target_gauges(&mut registry, reports);
        registry.register(API_REQUESTS.0, API_REQUESTS.1, self.api_requests.clone());
        registry.register(
            API_REQUEST_DURATION.0,
            API_REQUEST_DURATION.1,
            self.api_request_duration.clone(),
        );
        registry.register(API_PAGES.0, API_PAGES.1, self.api_pages.clone());
        registry.register(
            SKIPPED_ENTRIES.0,
            SKIPPED_ENTRIES.1,
            self.skipped_entries.clone(),
        );
        registry.register(
            SWEEP_WAIT_TIMEOUTS.0,
            SWEEP_WAIT_TIMEOUTS.1,
            self.sweep_wait_timeouts.clone(),
        );
        registry.register(
            RATE_LIMIT_WAIT.0,
            RATE_LIMIT_WAIT.1,
            self.rate_limit_wait.clone(),
        );
        registry.register(
            SERIES_DROPPED.0,
            SERIES_DROPPED.1,
            self.series_dropped.clone(),
        );
        let expiry: Family<AccountLabels, FloatGauge> = Family::default();
        for (account, at) in expiries {
            expiry
                .get_or_create(&AccountLabels {
                    account: account.clone(),
                })
                .set(at.timestamp() as f64);
        }
        registry.register(
            "cloud_task_credentials_expiry_timestamp_seconds",
            "When each account's temporary credentials expire (accounts with a temporary credentials source only)",
            expiry,
        );
        registry.register(
            "cloud_task_credentials_refreshes",
            "Fetches of each account's temporary credentials, by outcome",
            self.credentials_refreshes.clone(),
        );
        let build_info: Family<BuildLabels, Gauge> = Family::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                revision: option_env!("CLOUD_TASK_EXPORTER_REVISION").unwrap_or("unknown"),
            })
            .set(1);
        registry.register(
            "cloud_task_exporter_build_info",
            "A constant 1 labelled with the exporter's version and revision",
            build_info,
        );
        registry.register(
            "cloud_task_config_last_reload_successful",
            "1 if the last configuration load succeeded",
            self.reload_successful.clone(),
        );
        registry.register(
            "cloud_task_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully",
            self.reload_timestamp.clone(),
        );
        registry.register(
            "cloud_task_exporter_shard_ordinal",
            "The shard of the targets this exporter serves (--shard), from 0",
            self.shard.0.clone(),
        );
        registry.register(
            "cloud_task_exporter_total_shards",
            "How many shards the targets are split into (--total-shards)",
            self.shard.1.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// The exposition of one target (`/probe`): its task series and its own self-metrics, no
    /// other target's and nothing global. Costs what the target's series cost, whatever the
    /// number of other targets.
    pub fn encode_target(&self, target: &TargetId, report: &Arc<SweepReport>) -> String {
        let labels = TargetLabels::from(target);
        self.release_deferred(Some(&labels));
        let mut registry = Registry::default();
        let reports = [(target.clone(), report.clone())];
        self.register_task_gauges(&mut registry, &reports);
        register_target_gauges(&mut registry, &reports);
        let (durations, instance_id) = self.durations();
        registry.register_collector(Box::new(TargetSeries {
            pairs: self.seen_pairs(&labels),
            target: labels,
            finished: self.finished.clone(),
            durations,
            instance_id_on_durations: instance_id,
            api_requests: self.api_requests.clone(),
            api_request_duration: self.api_request_duration.clone(),
            api_pages: self.api_pages.clone(),
            skipped_entries: self.skipped_entries.clone(),
            sweep_wait_timeouts: self.sweep_wait_timeouts.clone(),
            rate_limit_wait: self.rate_limit_wait.clone(),
            series_dropped: self.series_dropped.clone(),
        }));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    fn register_task_gauges(
        &self,
        registry: &mut Registry,
        reports: &[(TargetId, Arc<SweepReport>)],
    ) {
        let budget = self.budget();
        let tasks: Family<StatusLabels, Gauge> = Family::default();
        let progress: Family<TaskIdLabels, FloatGauge> = Family::default();
        let start: Family<TaskIdLabels, FloatGauge> = Family::default();
        // The unfinished tasks whose series fit the budget: each target's oldest first up to
        // its share, then the oldest of all up to the total.
        let targets: Vec<TargetLabels> =
            reports.iter().map(|(t, _)| TargetLabels::from(t)).collect();
        let mut shown: Vec<(&TargetLabels, &Task)> = Vec::new();
        let mut all_series: Vec<(&TargetLabels, u64)> = Vec::new();
        for ((_, report), target) in reports.iter().zip(&targets) {
            let Ok(snapshot) = &report.result else {
                continue;
            };
            for ((instance_id, task_type), counts) in &snapshot.counts {
                for (status, count) in TaskStatus::ALL.iter().zip(counts) {
                    if *count == 0 && !budget.zero_statuses {
                        continue;
                    }
                    let labels = StatusLabels {
                        target: target.clone(),
                        instance_id: instance_id.clone(),
                        task_type: task_type.clone(),
                        status: status.as_str(),
                    };
                    tasks
                        .get_or_create(&labels)
                        .set(i64::try_from(*count).unwrap_or(i64::MAX));
                }
            }
            all_series.push((target, snapshot.unfinished.iter().map(series_of).sum()));
            shown.extend(within(
                snapshot.unfinished.iter().map(|task| (target, task)),
                budget.per_target,
            ));
        }
        shown.sort_by_key(|(_, task)| task.start_time);
        let shown = within(shown, budget.total);
        // What the budget left out, per target.
        let mut kept: std::collections::HashMap<&TargetLabels, u64> =
            std::collections::HashMap::new();
        for (target, task) in &shown {
            *kept.entry(*target).or_default() += series_of(task);
        }
        for (target, all) in all_series {
            let kept = kept.get(target).copied().unwrap_or_default();
            if all > kept {
                self.series_dropped.get_or_create(target).inc_by(all - kept);
            }
        }
        for (target, task) in &shown {
            let labels = TaskIdLabels {
                target: (*target).clone(),
                instance_id: task.instance_id.clone(),
                task_type: task.task_type.clone(),
                task_id: task.id.clone(),
            };
            if let Some(ratio) = task.progress {
                progress.get_or_create(&labels).set(ratio);
            }
            start
                .get_or_create(&labels)
                .set(task.start_time.timestamp_millis() as f64 / 1000.0);
        }
        registry.register(
            "cloud_task_tasks",
            "Tasks that started within the lookback window, by normalised status",
            tasks,
        );
        registry.register(
            "cloud_task_progress_ratio",
            "Progress (0 to 1) of each task that has not finished",
            progress,
        );
        registry.register(
            "cloud_task_start_timestamp_seconds",
            "Start time of each task that has not finished",
            start,
        );
    }
}

fn register_target_gauges(registry: &mut Registry, reports: &[(TargetId, Arc<SweepReport>)]) {
    let up: Family<TargetLabels, Gauge> = Family::default();
    let sweep_duration: Family<TargetLabels, FloatGauge> = Family::default();
    let last_success: Family<TargetLabels, FloatGauge> = Family::default();
    for (target, report) in reports {
        let target = &TargetLabels::from(target);
        up.get_or_create(target)
            .set(i64::from(report.result.is_ok()));
        sweep_duration
            .get_or_create(target)
            .set(report.duration.as_secs_f64());
        if let Some(at) = report.last_success {
            last_success
                .get_or_create(target)
                .set(at.timestamp_millis() as f64 / 1000.0);
        }
    }
    registry.register(
        "cloud_task_up",
        "1 if the last sweep of this target succeeded",
        up,
    );
    registry.register(
        "cloud_task_sweep_duration_seconds",
        "How long the last sweep of this target took",
        sweep_duration,
    );
    registry.register(
        "cloud_task_last_sweep_success_timestamp_seconds",
        "When a sweep of this target last succeeded",
        last_success,
    );
}

/// The series a task costs: its start time, and its progress when known.
fn series_of(task: &Task) -> u64 {
    1 + u64::from(task.progress.is_some())
}

/// The first of `tasks` whose series fit in `budget`: once one does not fit, none after it is
/// shown, so the order decides what goes first.
fn within<'a>(
    tasks: impl IntoIterator<Item = (&'a TargetLabels, &'a Task)>,
    budget: u64,
) -> Vec<(&'a TargetLabels, &'a Task)> {
    let mut used = 0u64;
    let mut kept = Vec::new();
    for (target, task) in tasks {
        used = used.saturating_add(series_of(task));
        if used > budget {
            break;
        }
        kept.push((target, task));
    }
    kept
}

/// One target's long-lived series, read from the process-wide families without creating any:
/// the families cannot be filtered, but the target's label sets are known (its outcomes, and
/// the (instance, task type) pairs it has finished counters for).
struct TargetSeries {
    target: TargetLabels,
    pairs: Vec<(String, String)>,
    finished: Family<StatusLabels, prometheus_client::metrics::counter::Counter>,
    durations: Family<DurationLabels, Histogram, Buckets>,
    instance_id_on_durations: bool,
    api_requests: Family<OutcomeLabels, prometheus_client::metrics::counter::Counter>,
    api_request_duration: Family<TargetLabels, Histogram, Buckets>,
    api_pages: Family<TargetLabels, prometheus_client::metrics::counter::Counter>,
    skipped_entries: Family<TargetLabels, prometheus_client::metrics::counter::Counter>,
    sweep_wait_timeouts: Family<TargetLabels, prometheus_client::metrics::counter::Counter>,
    rate_limit_wait: Family<TargetLabels, super::FloatCounter>,
    series_dropped: Family<TargetLabels, prometheus_client::metrics::counter::Counter>,
}

impl std::fmt::Debug for TargetSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetSeries")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Writes the series of `family` under `labels` that exist, as one metric family.
fn encode_existing<L, M, C>(
    encoder: &mut DescriptorEncoder,
    (name, help): (&str, &str),
    family: &Family<L, M, C>,
    labels: impl IntoIterator<Item = L>,
) -> std::fmt::Result
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug,
    M: EncodeMetric + TypedMetric,
    C: MetricConstructor<M>,
{
    let mut metric = encoder.encode_descriptor(name, help, None, M::TYPE)?;
    for labels in labels {
        if let Some(series) = family.get(&labels) {
            series.encode(metric.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

impl Collector for TargetSeries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let target = &self.target;
        let finished_statuses: Vec<&'static str> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_finished())
            .map(TaskStatus::as_str)
            .collect();
        let finished = self.pairs.iter().flat_map(|(instance, task_type)| {
            finished_statuses.iter().map(|status| StatusLabels {
                target: target.clone(),
                instance_id: instance.clone(),
                task_type: task_type.clone(),
                status,
            })
        });
        encode_existing(&mut encoder, FINISHED, &self.finished, finished)?;
        let mut duration_keys: Vec<(Option<String>, String)> = self
            .pairs
            .iter()
            .map(|(instance, task_type)| {
                (
                    self.instance_id_on_durations.then(|| instance.clone()),
                    task_type.clone(),
                )
            })
            .collect();
        duration_keys.sort();
        duration_keys.dedup();
        let durations = duration_keys.iter().flat_map(|(instance, task_type)| {
            finished_statuses.iter().map(|status| DurationLabels {
                target: target.clone(),
                instance_id: instance.clone(),
                task_type: task_type.clone(),
                status,
            })
        });
        encode_existing(&mut encoder, DURATIONS, &self.durations, durations)?;
        let outcomes = Outcome::ALL.into_iter().map(|outcome| OutcomeLabels {
            target: target.clone(),
            outcome: outcome.as_str(),
        });
        encode_existing(&mut encoder, API_REQUESTS, &self.api_requests, outcomes)?;
        let one = || std::iter::once(target.clone());
        encode_existing(
            &mut encoder,
            API_REQUEST_DURATION,
            &self.api_request_duration,
            one(),
        )?;
        encode_existing(&mut encoder, API_PAGES, &self.api_pages, one())?;
        encode_existing(&mut encoder, SKIPPED_ENTRIES, &self.skipped_entries, one())?;
        encode_existing(
            &mut encoder,
            SWEEP_WAIT_TIMEOUTS,
            &self.sweep_wait_timeouts,
            one(),
        )?;
        encode_existing(&mut encoder, RATE_LIMIT_WAIT, &self.rate_limit_wait, one())?;
        encode_existing(&mut encoder, SERIES_DROPPED, &self.series_dropped, one())
    }
}
