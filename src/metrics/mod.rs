//! The exporter's series: the long-lived counters and histograms, fed by the engine's events
//! ([`Observer`]), and their upkeep (new series shown at 0 before their first count, series
//! of instances gone for a lookback dropped, a reload's histogram layout). `labels.rs` has the
//! label sets; `exposition.rs` writes each scrape: the families with a series per task or per
//! (instance, task type) straight into the text (`writer.rs`), the rest through a
//! `prometheus_client` registry.
//!
//! Counters and histograms outlive scrapes (they are cumulative); the task gauges are written
//! on every scrape from the targets that answered, so a failed target shows no stale numbers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

use crate::providers::Outcome;
use crate::sweep::{Observer, TargetId, TaskRecord};
use crate::task::TaskStatus;

mod exposition;
mod labels;
mod writer;

pub use exposition::{
    OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, accepts_openmetrics, to_text_format,
};
use labels::{AccountOutcomeLabels, DurationLabels, OutcomeLabels, StatusLabels, TargetLabels};
pub use writer::Format;

/// Buckets of `cloud_task_api_request_duration_seconds`: 10 ms to 30 s.
const REQUEST_DURATION_BUCKETS: [f64; 11] =
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Clone)]
struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

type FloatCounter = Counter<f64, AtomicU64>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// The limits on the series a scrape shows (the config's `global.series`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Per-task series (progress and start time of unfinished tasks) per target...
    pub per_target: u64,
    /// ...and over all targets. The most recently started tasks are left out first: they are
    /// the least telling (no stuck or stalled alert can be about them yet).
    pub total: u64,
    /// Whether `cloud_task_tasks` shows the statuses with no task (at 0).
    pub zero_statuses: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            per_target: u64::MAX,
            total: u64::MAX,
            zero_statuses: true,
        }
    }
}

/// The metrics that live as long as the process.
pub struct Metrics {
    durations: RwLock<Durations>,
    api_requests: Family<OutcomeLabels, Counter>,
    api_request_duration: Family<TargetLabels, Histogram, Buckets>,
    api_pages: Family<TargetLabels, Counter>,
    skipped_entries: Family<TargetLabels, Counter>,
    sweep_wait_timeouts: Family<TargetLabels, Counter>,
    rate_limit_wait: Family<TargetLabels, FloatCounter>,
    reload_successful: Gauge,
    reload_timestamp: FloatGauge,
    credentials_refreshes: Family<AccountOutcomeLabels, Counter>,
    /// This exporter's shard (`--shard`, `--total-shards`).
    shard: (Gauge, Gauge),
    /// The limits on the series a scrape shows (`global.series`).
    budget: RwLock<Budget>,
    /// Per-task series left out of scrapes by the budget, per target.
    series_dropped: Family<TargetLabels, Counter>,
    /// Each target's instances and their task types, with their `cloud_task_finished_total`
    /// counts and when they last had a task in the window: they go once they have had none
    /// for a lookback, or with the target when a reload removes it. Kept here rather than in a
    /// `Family`, so that a scrape writes the counters of a million tasks' pairs without
    /// building a label set for each.
    seen: Mutex<HashMap<TargetLabels, Seen>>,
    /// The targets of the engine in force. Events of others (a sweep of a generation a
    /// reload has replaced, still finishing) are dropped, or they would bring back the series
    /// of a removed target for good. An event is recorded under the read lock, and a target
    /// removed under the write lock, so that no event checked before a removal lands after
    /// it. Taken before any other lock of `Metrics`.
    registered: RwLock<HashSet<TargetLabels>>,
    /// The accounts a reload removed, whose credentials' refresher lives on until the last
    /// scrape of their engine ends and must not bring back their counters; locked as
    /// `registered` is. A list of the removed rather than of the registered, since a new
    /// account's first fetch starts before its engine is complete and registered.
    removed_accounts: RwLock<HashSet<String>>,
    /// Counts that went to series created by the same sweep: see [`Deferred`].
    deferred: Mutex<Deferred>,
    /// About the size of the last `/metrics` exposition, to allocate the next at once.
    last_size: AtomicUsize,
}

/// The duration histograms and the layout (`histogram_buckets`, `labels.instance_id`) they
/// were made with: a reload that changes the layout replaces them, since existing
/// histograms cannot follow; every other series keeps counting.
struct Durations {
    family: Family<DurationLabels, Histogram, Buckets>,
    buckets: Arc<[f64]>,
    instance_id: bool,
}

impl Durations {
    fn new(buckets: &[f64], instance_id: bool) -> Self {
        let buckets: Arc<[f64]> = buckets.into();
        Durations {
            family: Family::new_with_constructor(Buckets(buckets.clone())),
            buckets,
            instance_id,
        }
    }
}

/// A series that appears with its first count already in it is invisible to `increase()`
/// and `rate()`, which need a previous sample: the first failure of a new instance or task
/// type would never alert. So a count for a series created by this sweep is held back: the
/// series is shown at 0 first, and the count lands one scrape later.
#[derive(Default)]
struct Deferred {
    /// Counts for series that no scrape has shown yet.
    pending: Vec<Count>,
    /// The series of `pending`, to tell in constant time whether one is held back.
    held_finished: HashSet<StatusLabels>,
    held_durations: HashSet<DurationLabels>,
    /// Counts for series the last scrape showed at 0: applied by the next one.
    ready: Vec<Count>,
}

/// Instance -> task type -> its finished counters.
type Seen = HashMap<String, HashMap<String, Pair>>;

/// The statuses `cloud_task_finished_total` counts, in the order of [`Pair::finished`].
const FINISHED_STATUSES: [TaskStatus; 3] = [
    TaskStatus::Succeeded,
    TaskStatus::Failed,
    TaskStatus::Cancelled,
];

/// One (instance, task type) of a target.
#[derive(Debug, Clone, Copy)]
struct Pair {
    /// When it last had a task in the window.
    last_seen: DateTime<Utc>,
    /// Tasks seen finishing, by [`FINISHED_STATUSES`].
    finished: [u64; FINISHED_STATUSES.len()],
}

#[derive(Clone)]
enum Count {
    Finished(StatusLabels),
    Duration(DurationLabels, f64),
}

/// Whether a count for these labels is already held back this sweep: then the series is
/// still unseen, and this count waits too.
impl Deferred {
    fn holds_finished(&self, labels: &StatusLabels) -> bool {
        self.held_finished.contains(labels)
    }

    fn holds_duration(&self, labels: &DurationLabels) -> bool {
        self.held_durations.contains(labels)
    }

    fn hold(&mut self, count: Count) {
        match &count {
            Count::Finished(labels) => {
                self.held_finished.insert(labels.clone());
            }
            Count::Duration(labels, _) => {
                self.held_durations.insert(labels.clone());
            }
        }
        self.pending.push(count);
    }

    /// The held-back counts become ready: the scrape about to be encoded shows their series.
    /// The counts to apply now (those whose series the last scrape showed at 0) of `only`
    /// (a `/probe` shows one target) or of every target; what is pending for them becomes
    /// ready for the next scrape.
    fn promote(&mut self, only: Option<&TargetLabels>) -> Vec<Count> {
        let mine = |target: &TargetLabels| only.is_none_or(|t| t == target);
        let (now, ready): (Vec<Count>, Vec<Count>) = std::mem::take(&mut self.ready)
            .into_iter()
            .partition(|count| mine(count.target()));
        let (next, pending): (Vec<Count>, Vec<Count>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|count| mine(count.target()));
        self.ready = ready;
        self.ready.extend(next);
        self.pending = pending;
        self.held_finished.retain(|labels| !mine(&labels.target));
        self.held_durations.retain(|labels| !mine(&labels.target));
        now
    }

    /// Drops what is held back for one (instance, task type), and for its durations too
    /// when `durations` (see [`Metrics::remove_pair`]).
    fn forget_pair(
        &mut self,
        target: &TargetLabels,
        instance_id: &str,
        task_type: &str,
        durations: bool,
    ) {
        let finished_of = |l: &StatusLabels| {
            l.target == *target && l.instance_id == instance_id && l.task_type == task_type
        };
        let durations_of = |l: &DurationLabels| {
            durations
                && l.target == *target
                && l.task_type == task_type
                && l.instance_id.as_deref().is_none_or(|id| id == instance_id)
        };
        let of_pair = |count: &Count| match count {
            Count::Finished(l) => finished_of(l),
            Count::Duration(l, _) => durations_of(l),
        };
        self.pending.retain(|count| !of_pair(count));
        self.ready.retain(|count| !of_pair(count));
        self.held_finished.retain(|l| !finished_of(l));
        self.held_durations.retain(|l| !durations_of(l));
    }

    /// Drops every held-back duration: the histograms they were for are gone.
    fn forget_durations(&mut self) {
        let finished = |count: &Count| matches!(count, Count::Finished(_));
        self.pending.retain(finished);
        self.ready.retain(finished);
        self.held_durations.clear();
    }

    fn forget_target(&mut self, target: &TargetLabels) {
        self.pending.retain(|count| count.target() != target);
        self.ready.retain(|count| count.target() != target);
        self.held_finished.retain(|labels| labels.target != *target);
        self.held_durations
            .retain(|labels| labels.target != *target);
    }
}

impl Count {
    fn target(&self) -> &TargetLabels {
        match self {
            Count::Finished(labels) => &labels.target,
            Count::Duration(labels, _) => &labels.target,
        }
    }
}

impl Metrics {
    pub fn new(duration_buckets: &[f64], instance_id_on_durations: bool) -> Self {
        Metrics {
            durations: RwLock::new(Durations::new(duration_buckets, instance_id_on_durations)),
            api_requests: Family::default(),
            api_request_duration: Family::new_with_constructor(Buckets(
                REQUEST_DURATION_BUCKETS.into(),
            )),
            api_pages: Family::default(),
            skipped_entries: Family::default(),
            sweep_wait_timeouts: Family::default(),
            rate_limit_wait: Family::default(),
            reload_successful: Gauge::default(),
            reload_timestamp: FloatGauge::default(),
            credentials_refreshes: Family::default(),
            shard: (Gauge::default(), Gauge::default()),
            budget: RwLock::new(Budget::default()),
            series_dropped: Family::default(),
            seen: Mutex::default(),
            registered: RwLock::default(),
            removed_accounts: RwLock::default(),
            deferred: Mutex::default(),
            last_size: AtomicUsize::default(),
        }
    }

    /// The duration histograms in force and whether they carry `instance_id`.
    fn durations(&self) -> (Family<DurationLabels, Histogram, Buckets>, bool) {
        let durations = self.durations.read().unwrap_or_else(|p| p.into_inner());
        (durations.family.clone(), durations.instance_id)
    }

    /// Puts a reloaded config's histogram layout in force: if it differs, the duration
    /// histograms start again (and counts held back for them go); returns whether they did.
    pub fn set_duration_layout(&self, buckets: &[f64], instance_id: bool) -> bool {
        let mut deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        let mut durations = self.durations.write().unwrap_or_else(|p| p.into_inner());
        if *durations.buckets == *buckets && durations.instance_id == instance_id {
            return false;
        }
        *durations = Durations::new(buckets, instance_id);
        deferred.forget_durations();
        true
    }

    /// Makes every outcome of a target visible from the start (at 0), so `rate()` and
    /// `increase()` see the first error instead of a series appearing out of nowhere.
    pub fn register_target(&self, target: &TargetId) {
        let target = &TargetLabels::from(target);
        self.registered
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(target.clone());
        for outcome in Outcome::ALL {
            drop(self.api_requests.get_or_create(&OutcomeLabels {
                target: target.clone(),
                outcome: outcome.as_str(),
            }));
        }
        drop(self.api_pages.get_or_create(target));
        drop(self.skipped_entries.get_or_create(target));
        drop(self.sweep_wait_timeouts.get_or_create(target));
        drop(self.rate_limit_wait.get_or_create(target));
        drop(self.api_request_duration.get_or_create(target));
        drop(self.series_dropped.get_or_create(target));
    }

    /// [`Metrics::task_seen`], telling whether the counters were created just now.
    fn note_seen(
        &self,
        target: &TargetLabels,
        instance_id: &str,
        task_type: &str,
        at: DateTime<Utc>,
    ) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let types = seen
            .entry(target.clone())
            .or_default()
            .entry(instance_id.to_owned())
            .or_default();
        if let Some(pair) = types.get_mut(task_type) {
            pair.last_seen = pair.last_seen.max(at);
            return false;
        }
        types.insert(
            task_type.to_owned(),
            Pair {
                last_seen: at,
                finished: [0; FINISHED_STATUSES.len()],
            },
        );
        true
    }

    /// Counts one task of `labels` seen finishing, if its pair still has counters.
    fn count_finished(&self, labels: &StatusLabels) {
        let Some(index) = FINISHED_STATUSES
            .iter()
            .position(|s| s.as_str() == labels.status)
        else {
            return;
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let count = seen
            .get_mut(&labels.target)
            .and_then(|instances| instances.get_mut(&labels.instance_id))
            .and_then(|types| types.get_mut(&labels.task_type))
            .and_then(|pair| pair.finished.get_mut(index));
        if let Some(count) = count {
            *count += 1;
        }
    }

    /// Removes the finished counters and durations of a target's (instance, task type) pairs
    /// that have had no task in the window since `before` (a lookback ago): instances come and
    /// go, and their series must not pile up until a restart. A counter that disappears is
    /// normal for Prometheus. Returns how many pairs went.
    fn forget_unseen(&self, target: &TargetLabels, before: DateTime<Utc>) -> usize {
        let gone: Vec<(String, String)> = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let Some(instances) = seen.get_mut(target) else {
                return 0;
            };
            let mut gone = Vec::new();
            instances.retain(|instance_id, types| {
                types.retain(|task_type, pair| {
                    let keep = pair.last_seen >= before;
                    if !keep {
                        gone.push((instance_id.clone(), task_type.clone()));
                    }
                    keep
                });
                !types.is_empty()
            });
            gone
        };
        for (instance_id, task_type) in &gone {
            self.remove_pair(target, instance_id, task_type);
        }
        gone.len()
    }

    /// Removes the durations of one (instance, task type) of a target, and any count held
    /// back for it. The pair (and its finished counters) must already be gone from `seen`.
    fn remove_pair(&self, target: &TargetLabels, instance_id: &str, task_type: &str) {
        // Without `instance_id` on durations, one histogram serves every instance of the
        // task type: it goes only with the last of them.
        let (durations, instance_id_on_durations) = self.durations();
        let remove_durations = instance_id_on_durations || {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            !seen
                .get(target)
                .is_some_and(|instances| instances.values().any(|t| t.contains_key(task_type)))
        };
        for status in FINISHED_STATUSES {
            if remove_durations {
                durations.remove(&DurationLabels {
                    target: target.clone(),
                    instance_id: instance_id_on_durations.then(|| instance_id.to_owned()),
                    task_type: task_type.to_owned(),
                    status: status.as_str(),
                });
            }
        }
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget_pair(target, instance_id, task_type, remove_durations);
    }

    /// Removes every series of a target that a reload took out of the config, so that it
    /// disappears from the exposition instead of lingering as a flat line.
    pub fn forget_target(&self, target: &TargetId) {
        let target = &TargetLabels::from(target);
        // Held to the end: an event checked before the removal cannot land after it.
        let mut registered = self.registered.write().unwrap_or_else(|p| p.into_inner());
        registered.remove(target);
        for outcome in Outcome::ALL {
            self.api_requests.remove(&OutcomeLabels {
                target: target.clone(),
                outcome: outcome.as_str(),
            });
        }
        self.api_pages.remove(target);
        self.skipped_entries.remove(target);
        self.sweep_wait_timeouts.remove(target);
        self.rate_limit_wait.remove(target);
        self.api_request_duration.remove(target);
        self.series_dropped.remove(target);
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .forget_target(target);
        let instances = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(target)
            .unwrap_or_default();
        for (instance_id, task_types) in instances {
            for task_type in task_types.into_keys() {
                self.remove_pair(target, &instance_id, &task_type);
            }
        }
    }

    /// Applies the counts held back by the previous scrape, and readies those of this one.
    fn release_deferred(&self, only: Option<&TargetLabels>) {
        // Held while applying, so that a layout change cannot slip in between (the lock
        // order is deferred, then durations, everywhere).
        let mut deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        let (durations, _) = self.durations();
        for count in deferred.promote(only) {
            match count {
                Count::Finished(labels) => self.count_finished(&labels),
                Count::Duration(labels, seconds) => {
                    durations.get_or_create(&labels).observe(seconds);
                }
            }
        }
    }

    /// Puts a config's series budget in force.
    pub fn set_budget(&self, budget: Budget) {
        *self.budget.write().unwrap_or_else(|p| p.into_inner()) = budget;
    }

    fn budget(&self) -> Budget {
        *self.budget.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Shows which shard of how many this exporter serves.
    pub fn set_shard(&self, ordinal: u32, total: u32) {
        self.shard.0.set(i64::from(ordinal));
        self.shard.1.set(i64::from(total));
    }

    /// The (instance, task type) pairs of `target` that have finished counters.
    fn seen_pairs(&self, target: &TargetLabels) -> Vec<(String, String)> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(target)
            .map(|instances| {
                instances
                    .iter()
                    .flat_map(|(instance, types)| {
                        types.keys().map(|t| (instance.clone(), t.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn config_reloaded(&self, successful: bool, at_unix_seconds: f64) {
        self.reload_successful.set(i64::from(successful));
        if successful {
            self.reload_timestamp.set(at_unix_seconds);
        }
    }

    /// Whether the last (re)load succeeded, and when one last did, in Unix seconds.
    pub fn reload_status(&self) -> (bool, f64) {
        (
            self.reload_successful.get() == 1,
            self.reload_timestamp.get(),
        )
    }
}

impl Metrics {
    /// Records an event of `target` with its label set, if it is a target of the engine in
    /// force, holding off its removal meanwhile (see `registered`).
    fn if_registered(&self, target: &TargetId, record: impl FnOnce(&TargetLabels)) {
        let labels = TargetLabels::from(target);
        let registered = self.registered.read().unwrap_or_else(|p| p.into_inner());
        if registered.contains(&labels) {
            record(&labels);
        }
    }
}

/// The engine's events, counted (for the targets of the engine in force).
impl crate::credentials::Observer for Metrics {
    fn credentials_refreshed(&self, account: &str, outcome: Outcome) {
        let removed = self
            .removed_accounts
            .read()
            .unwrap_or_else(|p| p.into_inner());
        if !removed.contains(account) {
            self.credentials_refreshes
                .get_or_create(&AccountOutcomeLabels {
                    account: account.to_owned(),
                    outcome: outcome.as_str(),
                })
                .inc();
        }
    }
}

impl Metrics {
    /// Drops the refresh counters of an account that no longer has temporary credentials.
    pub fn forget_credentials(&self, account: &str) {
        // Held to the end, as in `forget_target`.
        let mut removed = self
            .removed_accounts
            .write()
            .unwrap_or_else(|p| p.into_inner());
        removed.insert(account.to_owned());
        for outcome in Outcome::ALL {
            self.credentials_refreshes.remove(&AccountOutcomeLabels {
                account: account.to_owned(),
                outcome: outcome.as_str(),
            });
        }
    }

    /// Makes the refresh outcomes of an account with temporary credentials visible from the
    /// start (at 0), as for a target's requests.
    pub fn register_credentials(&self, account: &str) {
        self.removed_accounts
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(account);
        for outcome in Outcome::ALL {
            drop(
                self.credentials_refreshes
                    .get_or_create(&AccountOutcomeLabels {
                        account: account.to_owned(),
                        outcome: outcome.as_str(),
                    }),
            );
        }
    }
}

impl Observer for Metrics {
    /// Counts one API request, by outcome, with how long it took.
    fn api_request(&self, target: &TargetId, outcome: Outcome, seconds: f64) {
        self.if_registered(target, |target| {
            self.api_requests
                .get_or_create(&OutcomeLabels {
                    target: target.clone(),
                    outcome: outcome.as_str(),
                })
                .inc();
            self.api_request_duration
                .get_or_create(target)
                .observe(seconds);
            if outcome == Outcome::Ok {
                self.api_pages.get_or_create(target).inc();
            }
        });
    }

    /// Counts entries of a page that were not usable tasks and were skipped.
    fn skipped_entries(&self, target: &TargetId, entries: u64) {
        self.if_registered(target, |target| {
            self.skipped_entries.get_or_create(target).inc_by(entries);
        });
    }

    /// Counts a scrape that gave up waiting for the sweep another scrape had started.
    fn sweep_wait_timeout(&self, target: &TargetId) {
        self.if_registered(target, |target| {
            self.sweep_wait_timeouts.get_or_create(target).inc();
        });
    }

    fn rate_limit_wait(&self, target: &TargetId, seconds: f64) {
        self.if_registered(target, |target| {
            self.rate_limit_wait.get_or_create(target).inc_by(seconds);
        });
    }

    /// Creates the finished counters of an (instance, task type) at 0, so that the first
    /// failure is an increase that `increase()` and alerts can see, not a new series; `at` is
    /// when it had a task in the window.
    fn task_seen(&self, target: &TargetId, instance_id: &str, task_type: &str, at: DateTime<Utc>) {
        self.if_registered(target, |target| {
            self.note_seen(target, instance_id, task_type, at);
        });
    }

    /// Counts a task seen finishing, once: the caller deduplicates by task id.
    fn task_finished(&self, target: &TargetId, task: &TaskRecord, at: DateTime<Utc>) {
        self.if_registered(target, |target| self.count_task(target, task, at));
    }

    fn window_moved(&self, target: &TargetId, window_start: DateTime<Utc>) {
        self.if_registered(target, |target| {
            self.forget_unseen(target, window_start);
        });
    }
}

impl Metrics {
    /// [`Observer::task_finished`] of a registered target.
    fn count_task(&self, target: &TargetLabels, task: &TaskRecord, at: DateTime<Utc>) {
        let new_series = self.note_seen(target, &task.instance_id, &task.task_type, at);
        let mut deferred = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        let finished = StatusLabels {
            target: target.clone(),
            instance_id: task.instance_id.to_string(),
            task_type: task.task_type.to_string(),
            status: task.status.as_str(),
        };
        if new_series || deferred.holds_finished(&finished) {
            deferred.hold(Count::Finished(finished));
        } else {
            self.count_finished(&finished);
        }
        if let Some(seconds) = task.duration_seconds() {
            let (durations, instance_id_on_durations) = self.durations();
            let labels = DurationLabels {
                target: target.clone(),
                instance_id: instance_id_on_durations.then(|| task.instance_id.to_string()),
                task_type: task.task_type.to_string(),
                status: task.status.as_str(),
            };
            if durations.get(&labels).is_none() {
                // An empty histogram first; this observation comes with the next scrape.
                drop(durations.get_or_create(&labels));
                deferred.hold(Count::Duration(labels, seconds));
            } else if deferred.holds_duration(&labels) {
                deferred.hold(Count::Duration(labels, seconds));
            } else {
                durations.get_or_create(&labels).observe(seconds);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{Snapshot, SweepReport};
    use crate::task::Task;
    use std::collections::BTreeMap;

    /// A report of `target` whose window holds unfinished tasks started `ages` minutes ago,
    /// every other one with a progress, and one finished (instance, type) pair.
    fn report(ages: &[i64]) -> Arc<SweepReport> {
        let now = Utc::now();
        let unfinished: Vec<TaskRecord> = ages
            .iter()
            .enumerate()
            .map(|(n, age)| Task {
                id: format!("t{age}"),
                task_type: "Backup".into(),
                instance_id: "i1".into(),
                instance_name: None,
                status: TaskStatus::Running,
                progress: n.is_multiple_of(2).then_some(0.5),
                start_time: now - chrono::Duration::minutes(*age),
                end_time: None,
                message: None,
            })
            .map(TaskRecord::from)
            .collect();
        let mut counts = BTreeMap::new();
        let mut running = [0u64; TaskStatus::ALL.len()];
        running[1] = ages.len() as u64;
        counts.insert(("i1".into(), "Backup".into()), running);
        Arc::new(SweepReport {
            result: Ok(Snapshot {
                counts,
                total: ages.len(),
                unfinished,
            }),
            started_at: now,
            duration: std::time::Duration::from_millis(1),
            last_success: Some(now),
        })
    }

    fn record(task: Task) -> TaskRecord {
        TaskRecord::from(task)
    }

    fn id(account: &str) -> TargetId {
        TargetId {
            account: account.into(),
            kind: "tencent_postgres",
            region: "ap-guangzhou".into(),
        }
    }

    fn lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .collect()
    }

    #[test]
    fn the_series_budget_leaves_out_the_newest_tasks_first_and_counts_them() {
        let metrics = Metrics::new(&[60.0], true);
        let (a, b) = (id("a"), id("b"));
        metrics.register_target(&a);
        metrics.register_target(&b);
        // Oldest first: a's tasks cost 2, 1, 2, 1 series; b's 2, 1.
        let reports = vec![
            (a.clone(), report(&[50, 40, 30, 20])),
            (b.clone(), report(&[45, 5])),
        ];
        metrics.set_budget(Budget {
            per_target: 4,
            total: 6,
            zero_statuses: true,
        });
        let text = metrics.encode(&reports, &[], Format::OpenMetrics);
        let started: Vec<&str> = lines(&text, "cloud_task_start_timestamp_seconds");
        let shown: Vec<&str> = started
            .iter()
            .map(|l| {
                l.split("task_id=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
            })
            .collect();
        // a's share (4 series) holds t50 and t40 (3), not t30 (2 more); then the total (6)
        // takes by age over both: t50 (2), b's t45 (2), t40 (1): 5, and b's t5 (1): 6.
        let mut sorted = shown.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["t40", "t45", "t5", "t50"], "{text}");
        let dropped = |account: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with("cloud_task_series_dropped_total{")
                        && l.contains(&format!("account=\"{account}\""))
                })
                .and_then(|l| l.rsplit(' ').next())
                .unwrap()
                .to_owned()
        };
        // a: t30 (2) and t20 (1) left out; b: nothing.
        assert_eq!(dropped("a"), "3");
        assert_eq!(dropped("b"), "0");
        // The counts of every status are still there, zeros included.
        assert_eq!(
            lines(&text, "cloud_task_tasks").len(),
            2 * TaskStatus::ALL.len()
        );

        metrics.set_budget(Budget {
            zero_statuses: false,
            ..Budget::default()
        });
        let text = metrics.encode(&reports, &[], Format::OpenMetrics);
        let tasks = lines(&text, "cloud_task_tasks");
        assert_eq!(tasks.len(), 2, "{tasks:?}");
        assert!(tasks.iter().all(|l| l.contains("status=\"running\"")));
        assert_eq!(lines(&text, "cloud_task_start_timestamp_seconds").len(), 6);
    }

    #[test]
    fn a_new_histogram_layout_restarts_the_durations_only() {
        let metrics = Metrics::new(&[60.0], true);
        let target = TargetId {
            account: "a".into(),
            kind: "tencent_postgres",
            region: "r".into(),
        };
        metrics.register_target(&target);
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let task = |id: &str| Task {
            id: id.into(),
            task_type: "RestoreDatabase".into(),
            instance_id: "postgres-1".into(),
            instance_name: None,
            status: TaskStatus::Succeeded,
            progress: None,
            start_time: start,
            end_time: Some(start + chrono::Duration::seconds(30)),
            message: None,
        };
        metrics.api_request(&target, Outcome::Ok, 0.1);
        metrics.task_finished(&target, &record(task("1")), start);
        metrics.encode(&[], &[], Format::OpenMetrics);
        metrics.task_finished(&target, &record(task("2")), start);
        let before = metrics.encode(&[], &[], Format::OpenMetrics);
        assert!(before.contains("le=\"60.0\""), "{before}");
        assert!(!metrics.set_duration_layout(&[60.0], true));
        // A held-back observation for the old layout is dropped with it.
        metrics.task_finished(&target, &record(task("3")), start);
        assert!(metrics.set_duration_layout(&[10.0, 600.0], true));
        let after = metrics.encode(&[], &[], Format::OpenMetrics);
        assert!(
            !after.contains("cloud_task_duration_seconds_count{"),
            "{after}"
        );
        let line = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name) && l.contains("succeeded"))
                .map(str::to_owned)
        };
        assert_eq!(
            line(&after, "cloud_task_finished_total"),
            line(&before, "cloud_task_finished_total").map(|l| l.replace(" 2", " 3"))
        );
        assert!(after.contains("outcome=\"ok\"} 1"), "{after}");
        metrics.task_finished(&target, &record(task("4")), start);
        metrics.encode(&[], &[], Format::OpenMetrics);
        let later = metrics.encode(&[], &[], Format::OpenMetrics);
        assert!(later.contains("le=\"600.0\""), "{later}");
        assert!(!later.contains("le=\"60.0\""), "{later}");
    }

    #[test]
    fn events_of_a_target_no_longer_in_force_are_dropped() {
        // A sweep of the generation a reload replaced may still be finishing: its events must
        // not bring the removed target's series back, for good.
        let metrics = Metrics::new(&[60.0], true);
        let target = TargetId {
            account: "gone".into(),
            kind: "tencent_postgres",
            region: "r".into(),
        };
        metrics.register_target(&target);
        metrics.forget_target(&target);
        metrics.api_request(&target, Outcome::Ok, 0.1);
        metrics.skipped_entries(&target, 1);
        metrics.task_seen(&target, "i", "Backup", chrono::Utc::now());
        let text = metrics.encode(&[], &[], Format::OpenMetrics);
        assert!(!text.contains("account=\"gone\""), "{text}");
    }

    #[test]
    fn a_new_series_is_shown_at_0_before_its_first_count() {
        let metrics = Metrics::new(&[60.0], true);
        let target = TargetId {
            account: "a".into(),
            kind: "tencent_postgres",
            region: "r".into(),
        };
        metrics.register_target(&target);
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let failed = |id: &str| Task {
            id: id.into(),
            task_type: "RestoreDatabase".into(),
            instance_id: "postgres-1".into(),
            instance_name: None,
            status: TaskStatus::Failed,
            progress: None,
            start_time: start,
            end_time: Some(start + chrono::Duration::seconds(30)),
            message: None,
        };
        let sample = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name) && l.contains("status=\"failed\""))
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        // A task type never seen before fails between two sweeps, twice.
        metrics.task_finished(&target, &record(failed("1")), start);
        metrics.task_finished(&target, &record(failed("2")), start);
        let first = metrics.encode(&[], &[], Format::OpenMetrics);
        assert_eq!(
            sample(&first, "cloud_task_finished_total").as_deref(),
            Some("0")
        );
        assert_eq!(
            sample(&first, "cloud_task_duration_seconds_count").as_deref(),
            Some("0")
        );
        // The next scrape has the counts, plus one more that came meanwhile.
        metrics.task_finished(&target, &record(failed("3")), start);
        let second = metrics.encode(&[], &[], Format::OpenMetrics);
        assert_eq!(
            sample(&second, "cloud_task_finished_total").as_deref(),
            Some("3")
        );
        assert_eq!(
            sample(&second, "cloud_task_duration_seconds_count").as_deref(),
            Some("3")
        );
        // And a known series counts at once.
        metrics.task_finished(&target, &record(failed("4")), start);
        let third = metrics.encode(&[], &[], Format::OpenMetrics);
        assert_eq!(
            sample(&third, "cloud_task_finished_total").as_deref(),
            Some("4")
        );
    }

    #[test]
    fn series_of_instances_gone_for_a_lookback_are_dropped() {
        for instance_id_on_durations in [true, false] {
            let metrics = Metrics::new(&[60.0], instance_id_on_durations);
            let target = TargetId {
                account: "a".into(),
                kind: "huawei_rds",
                region: "r".into(),
            };
            metrics.register_target(&target);
            let labels = TargetLabels::from(&target);
            let t0 = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
            let hours = |h: i64| t0 + chrono::Duration::hours(h);
            let finished = |id: &str, instance: &str| Task {
                id: id.into(),
                task_type: "Backup".into(),
                instance_id: instance.into(),
                instance_name: None,
                status: TaskStatus::Succeeded,
                progress: None,
                start_time: t0,
                end_time: Some(t0 + chrono::Duration::seconds(30)),
                message: None,
            };
            for instance in ["old", "kept"] {
                metrics.task_seen(&target, instance, "Backup", t0);
                metrics.task_finished(&target, &record(finished(instance, instance)), t0);
            }
            metrics.encode(&[], &[], Format::OpenMetrics);
            let text = metrics.encode(&[], &[], Format::OpenMetrics);
            assert_eq!(text.matches("cloud_task_finished_total{").count(), 6);
            // "kept" is still in the window a day later; "old" left it at t0.
            metrics.task_seen(&target, "kept", "Backup", hours(24));
            assert_eq!(
                metrics.forget_unseen(&labels, hours(24) - chrono::Duration::hours(24)),
                0
            );
            assert_eq!(metrics.forget_unseen(&labels, hours(1)), 1);
            let text = metrics.encode(&[], &[], Format::OpenMetrics);
            assert!(!text.contains("instance_id=\"old\""), "{text}");
            assert_eq!(text.matches("cloud_task_finished_total{").count(), 3);
            // One histogram per status for "kept" (or for the type, without instance_id).
            assert!(
                text.contains("cloud_task_duration_seconds_count{"),
                "{text}"
            );
            assert_eq!(metrics.forget_unseen(&labels, hours(48)), 1);
            let text = metrics.encode(&[], &[], Format::OpenMetrics);
            assert!(!text.contains("cloud_task_finished_total{"), "{text}");
            assert!(
                !text.contains("cloud_task_duration_seconds_count{"),
                "{text}"
            );
            // A comeback starts again at 0, as a new series.
            metrics.task_seen(&target, "old", "Backup", hours(49));
            assert_eq!(
                metrics
                    .encode(&[], &[], Format::OpenMetrics)
                    .matches("cloud_task_finished_total{")
                    .count(),
                3
            );
        }
    }

    #[test]
    fn openmetrics_counters_become_text_format_counters() {
        let openmetrics = "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests_total{x=\"1\"} 3\n# HELP b Gauge.\n# TYPE b gauge\n# UNIT b seconds\nb 1.5\n# EOF\n";
        assert_eq!(
            to_text_format(openmetrics),
            "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\na_requests_total{x=\"1\"} 3\n# HELP b Gauge.\n# TYPE b gauge\nb 1.5\n"
        );
    }

    #[test]
    fn openmetrics_only_when_asked_for() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(accepts_openmetrics(Some(prometheus)));
        assert!(!accepts_openmetrics(Some("*/*")));
        assert!(!accepts_openmetrics(Some("text/plain; version=0.0.4")));
        assert!(!accepts_openmetrics(Some(
            "application/openmetrics-text; q=0"
        )));
        assert!(!accepts_openmetrics(None));
    }

    #[test]
    fn a_probe_helps_its_families_as_metrics_does() {
        let metrics = Metrics::new(&[60.0], true);
        let target = id("a");
        metrics.register_target(&target);
        metrics.api_request(&target, Outcome::Ok, 0.1);
        let start = Utc::now();
        let done = Task {
            id: "1".into(),
            task_type: "Backup".into(),
            instance_id: "i1".into(),
            instance_name: None,
            status: TaskStatus::Failed,
            progress: None,
            start_time: start,
            end_time: Some(start + chrono::Duration::seconds(5)),
            message: None,
        };
        metrics.task_finished(&target, &record(done), start);
        let report = report(&[10]);
        for format in [Format::OpenMetrics, Format::Text] {
            let helps = |text: &str| -> HashMap<String, String> {
                text.lines()
                    .filter_map(|l| l.strip_prefix("# HELP "))
                    .filter_map(|l| l.split_once(' '))
                    .map(|(name, help)| (name.to_owned(), help.to_owned()))
                    .collect()
            };
            let all = helps(&metrics.encode(&[(target.clone(), report.clone())], &[], format));
            let probe = helps(&metrics.encode_target(&target, &report, format));
            assert!(probe.len() > 10, "{probe:?}");
            for (name, help) in &probe {
                assert_eq!(Some(help), all.get(name), "{name} ({format:?})");
            }
        }
    }

    #[test]
    fn a_target_removed_while_its_sweep_still_reports_leaves_no_series() {
        // A sweep of the generation a reload replaced goes on reporting while the reload
        // removes its target: nothing it reports may outlive the removal.
        use std::sync::atomic::{AtomicBool, Ordering};
        let metrics = Arc::new(Metrics::new(&[60.0], true));
        let target = id("gone");
        let now = Utc::now();
        let finished = record(Task {
            id: "t".into(),
            task_type: "Backup".into(),
            instance_id: "i1".into(),
            instance_name: None,
            status: TaskStatus::Failed,
            progress: None,
            start_time: now - chrono::Duration::minutes(5),
            end_time: Some(now),
            message: None,
        });
        for round in 0..300 {
            metrics.register_target(&target);
            let stop = Arc::new(AtomicBool::new(false));
            let sweep = {
                let (metrics, target, finished, stop) = (
                    metrics.clone(),
                    target.clone(),
                    finished.clone(),
                    stop.clone(),
                );
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        metrics.api_request(&target, Outcome::Ok, 0.1);
                        metrics.rate_limit_wait(&target, 0.1);
                        metrics.task_finished(&target, &finished, now);
                        metrics.window_moved(&target, now - chrono::Duration::hours(1));
                    }
                })
            };
            std::thread::sleep(std::time::Duration::from_micros(200));
            metrics.forget_target(&target);
            stop.store(true, Ordering::Relaxed);
            sweep.join().unwrap();
            let text = metrics.encode(&[], &[], Format::Text);
            let left: Vec<&str> = text.lines().filter(|l| l.contains("\"gone\"")).collect();
            assert!(left.is_empty(), "round {round}: {left:#?}");
        }
    }

    #[test]
    fn a_scrape_that_began_before_a_reload_does_not_bring_back_a_removed_target() {
        let metrics = Metrics::new(&[60.0], true);
        let target = id("gone");
        metrics.register_target(&target);
        metrics.set_budget(Budget {
            per_target: 1,
            total: 100,
            zero_statuses: true,
        });
        let reports = vec![(target.clone(), report(&[50, 40, 30]))];
        metrics.forget_target(&target);
        // The scrape shows the report it collected, over the budget...
        let text = metrics.encode(&reports, &[], Format::Text);
        assert!(text.contains("cloud_task_tasks{account=\"gone\""), "{text}");
        // ...and the next one nothing of the removed target.
        let text = metrics.encode(&[], &[], Format::Text);
        let left: Vec<&str> = text.lines().filter(|l| l.contains("\"gone\"")).collect();
        assert!(left.is_empty(), "{left:#?}");
    }

    #[test]
    fn a_removed_account_s_refresher_does_not_bring_back_its_counters() {
        use crate::credentials::Observer as _;
        let metrics = Metrics::new(&[60.0], true);
        // A new account's first fetch starts as its engine is built, before it is registered.
        metrics.credentials_refreshed("kept", Outcome::ServerError);
        metrics.register_credentials("kept");
        metrics.register_credentials("gone");
        metrics.forget_credentials("gone");
        // The removed account's refresher lives until its engine's last scrape ends.
        metrics.credentials_refreshed("gone", Outcome::Ok);
        metrics.credentials_refreshed("kept", Outcome::Ok);
        let text = metrics.encode(&[], &[], Format::Text);
        assert!(!text.contains("\"gone\""), "{text}");
        for outcome in ["ok", "server_error"] {
            assert!(
                text.lines().any(|l| l.contains("account=\"kept\"")
                    && l.contains(&format!("outcome=\"{outcome}\""))
                    && l.ends_with(" 1")),
                "{outcome}: {text}"
            );
        }
    }
}
