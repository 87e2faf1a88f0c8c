//! From the series to what a scrape receives: the per-scrape registry (task and target
//! gauges from this scrape's reports, the long-lived series, self-metrics), OpenMetrics
//! encoding, and the classic text format for scrapers that do not ask for OpenMetrics.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::labels::{AccountLabels, BuildLabels, DurationLabels, OutcomeLabels, TargetLabels};
use super::writer::{Format, Kind, Labels, Value, Writer};
use super::{Buckets, Budget, FINISHED_STATUSES, FloatGauge, Metrics};
use crate::process::ProcessCollector;
use crate::providers::Outcome;
use crate::sweep::TaskRecord;
use crate::sweep::{Snapshot, SweepReport, TargetId};
use crate::task::TaskStatus;

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

/// `"cloud_task_tasks"` and its help.
const TASKS: (&str, &str) = (
    "cloud_task_tasks",
    "Tasks that started within the lookback window, by normalised status",
);
/// `"cloud_task_progress_ratio"` and its help.
const PROGRESS: (&str, &str) = (
    "cloud_task_progress_ratio",
    "Progress (0 to 1) of each task that has not finished",
);
/// `"cloud_task_start_timestamp_seconds"` and its help.
const START: (&str, &str) = (
    "cloud_task_start_timestamp_seconds",
    "Start time of each task that has not finished",
);
/// The `status` label of each [`TaskStatus::ALL`], as written after the other labels.
const STATUS_LABELS: [&str; TaskStatus::ALL.len()] = [
    "status=\"pending\"",
    "status=\"running\"",
    "status=\"paused\"",
    "status=\"succeeded\"",
    "status=\"failed\"",
    "status=\"cancelled\"",
    "status=\"unknown\"",
];

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
        format: Format,
    ) -> String {
        self.release_deferred(None);
        // Sized at once, as the last one or by a guess for the first: an exposition of tens of
        // MiB built by doubling would briefly need one and a half times its size again.
        let size = self.last_size.load(Ordering::Relaxed);
        let size = match size {
            0 => guess_size(reports, self.budget()),
            last => last,
        };
        let mut out = String::new();
        // Too large a guess for the memory there is: the buffer grows as it must instead.
        let _ = out.try_reserve_exact(size);
        self.write_task_families(&mut out, format, reports);
        self.write_finished(&mut out, format, None);
        let mut registry = Registry::default();
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
        append(&mut out, &registry, format);
        self.last_size
            .store(out.len() + out.len() / 8, Ordering::Relaxed);
        out
    }

    /// The exposition of one target (`/probe`): its task series and its own self-metrics, no
    /// other target's and nothing global. Costs what the target's series cost, whatever the
    /// number of other targets.
    pub fn encode_target(
        &self,
        target: &TargetId,
        report: &Arc<SweepReport>,
        format: Format,
    ) -> String {
        let labels = TargetLabels::from(target);
        self.release_deferred(Some(&labels));
        let mut out = String::new();
        let reports = [(target.clone(), report.clone())];
        self.write_task_families(&mut out, format, &reports);
        self.write_finished(&mut out, format, Some(&labels));
        let mut registry = Registry::default();
        register_target_gauges(&mut registry, &reports);
        let (durations, instance_id) = self.durations();
        registry.register_collector(Box::new(TargetSeries {
            pairs: self.seen_pairs(&labels),
            target: labels,
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
        append(&mut out, &registry, format);
        out
    }

    /// `cloud_task_finished_total` of every target, or of `only`.
    fn write_finished(&self, out: &mut String, format: Format, only: Option<&TargetLabels>) {
        let mut writer = Writer::new(out, format);
        writer.family(FINISHED.0, FINISHED.1, Kind::Counter);
        let name = format!("{}_total", FINISHED.0);
        let statuses = FINISHED_STATUSES.map(|s| format!("status=\"{}\"", s.as_str()));
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let targets: Vec<_> = match only {
            Some(only) => seen.get_key_value(only).into_iter().collect(),
            None => seen.iter().collect(),
        };
        for (target, instances) in targets {
            let target = Labels::default()
                .with("account", &target.account)
                .with("provider", &target.provider)
                .with("region", &target.region);
            let (mut instance, mut labels) = (Labels::default(), Labels::default());
            for (instance_id, types) in instances {
                instance.reset_to(&target);
                instance.push("instance_id", instance_id);
                for (task_type, pair) in types {
                    labels.reset_to(&instance);
                    labels.push("task_type", task_type);
                    for (status, count) in statuses.iter().zip(pair.finished) {
                        let count = Value::Int(i64::try_from(count).unwrap_or(i64::MAX));
                        writer.sample(&name, &labels, Some(status), count);
                    }
                }
            }
        }
    }

    /// `cloud_task_tasks`, `cloud_task_progress_ratio` and `cloud_task_start_timestamp_seconds`
    /// of the targets that answered, written straight from their snapshots (see
    /// [`writer`](super::writer)), within the series budget.
    fn write_task_families(
        &self,
        out: &mut String,
        format: Format,
        reports: &[(TargetId, Arc<SweepReport>)],
    ) {
        let budget = self.budget();
        let mut writer = Writer::new(out, format);
        let targets: Vec<(&TargetId, Labels, &Snapshot)> = reports
            .iter()
            .filter_map(|(target, report)| {
                let snapshot = report.result.as_ref().ok()?;
                let labels = Labels::default()
                    .with("account", &target.account)
                    .with("provider", target.kind)
                    .with("region", &target.region);
                Some((target, labels, snapshot))
            })
            .collect();
        writer.family(TASKS.0, TASKS.1, Kind::Gauge);
        let mut pair = Labels::default();
        for (_, target, snapshot) in &targets {
            for ((instance_id, task_type), counts) in &snapshot.counts {
                pair.reset_to(target);
                pair.push("instance_id", instance_id);
                pair.push("task_type", task_type);
                for (status, count) in STATUS_LABELS.iter().zip(counts) {
                    if *count == 0 && !budget.zero_statuses {
                        continue;
                    }
                    let count = Value::Int(i64::try_from(*count).unwrap_or(i64::MAX));
                    writer.sample(TASKS.0, &pair, Some(status), count);
                }
            }
        }
        // The unfinished tasks whose series fit the budget: each target's oldest first up to
        // its share, then the oldest of all up to the total.
        let mut shown: Vec<(usize, &TaskRecord)> = Vec::new();
        for (index, (_, _, snapshot)) in targets.iter().enumerate() {
            shown.extend(within(
                snapshot.unfinished.iter().map(|task| (index, task)),
                budget.per_target,
            ));
        }
        shown.sort_by_key(|(_, task)| task.start_time());
        let shown = within(shown, budget.total);
        // What the budget left out, per target.
        let mut kept = vec![0u64; targets.len()];
        for (index, task) in &shown {
            if let Some(kept) = kept.get_mut(*index) {
                *kept += series_of(task);
            }
        }
        for ((target, _, snapshot), kept) in targets.iter().zip(kept) {
            let all: u64 = snapshot.unfinished.iter().map(series_of).sum();
            if all > kept {
                // A scrape that began before a reload removed the target still shows its
                // report, but must not bring back its counter for good.
                self.if_registered(target, |labels| {
                    self.series_dropped.get_or_create(labels).inc_by(all - kept);
                });
            }
        }
        let task_labels: Vec<Labels> = shown
            .iter()
            .filter_map(|(index, task)| {
                let (_, target, _) = targets.get(*index)?;
                Some(
                    target
                        .with("instance_id", &task.instance_id)
                        .with("task_type", &task.task_type)
                        .with("task_id", &task.id),
                )
            })
            .collect();
        writer.family(PROGRESS.0, PROGRESS.1, Kind::Gauge);
        for ((_, task), labels) in shown.iter().zip(&task_labels) {
            if let Some(ratio) = task.progress() {
                writer.sample(PROGRESS.0, labels, None, Value::Float(ratio));
            }
        }
        writer.family(START.0, START.1, Kind::Gauge);
        for ((_, task), labels) in shown.iter().zip(&task_labels) {
            let start = task.start_time().timestamp_millis() as f64 / 1000.0;
            writer.sample(START.0, labels, None, Value::Float(start));
        }
    }
}

/// A generous guess of the size of an exposition of `reports`: their per-pair series (task
/// counts and finished counters) and per-task series within the budget, at a long line each.
/// Too much only reserves address space; the pages never written are never touched.
fn guess_size(reports: &[(TargetId, Arc<SweepReport>)], budget: Budget) -> usize {
    let statuses = if budget.zero_statuses {
        TaskStatus::ALL.len()
    } else {
        // At most this many statuses of a pair are not zero, usually.
        2
    };
    let per_pair = statuses + FINISHED_STATUSES.len();
    let per_target = usize::try_from(budget.per_target).unwrap_or(usize::MAX);
    reports
        .iter()
        .filter_map(|(target, report)| {
            let snapshot = report.result.as_ref().ok()?;
            let series = snapshot.counts.len().saturating_mul(per_pair)
                + snapshot.unfinished.len().min(per_target).saturating_mul(2);
            let line = 200 + target.account.len() + target.region.len();
            Some(series.saturating_mul(line))
        })
        .fold(0usize, usize::saturating_add)
        // Beyond this, the buffer grows as it must.
        .min(256 << 20)
}

/// Appends what `prometheus_client` writes for `registry`, in `format`.
fn append(out: &mut String, registry: &Registry, format: Format) {
    match format {
        // Writing into a String cannot fail.
        Format::OpenMetrics => {
            let _ = prometheus_client::encoding::text::encode(out, registry);
        }
        Format::Text => {
            let mut openmetrics = String::new();
            let _ = prometheus_client::encoding::text::encode(&mut openmetrics, registry);
            out.push_str(&to_text_format(&openmetrics));
        }
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
fn series_of(task: &TaskRecord) -> u64 {
    1 + u64::from(task.progress().is_some())
}

/// The first of `tasks` whose series fit in `budget`: once one does not fit, none after it is
/// shown, so the order decides what goes first.
fn within<'a, T>(
    tasks: impl IntoIterator<Item = (T, &'a TaskRecord)>,
    budget: u64,
) -> Vec<(T, &'a TaskRecord)> {
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
    // With the full stop `Registry::register` adds, as /metrics writes it.
    let help = format!("{help}.");
    let mut metric = encoder.encode_descriptor(name, &help, None, M::TYPE)?;
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
            FINISHED_STATUSES.iter().map(|status| DurationLabels {
                target: target.clone(),
                instance_id: instance.clone(),
                task_type: task_type.clone(),
                status: status.as_str(),
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
