//! What a target remembers between sweeps: the tasks of its lookback window.
//!
//! Finished tasks never change, so after the first sweep only the part of the window that
//! can still change is asked for again: from the start of the oldest unfinished task (or the
//! newest start seen, when every task has finished) less an overlap. The answer for that
//! range replaces what the window held for it; the rest is kept. Tasks are dropped as they
//! leave the lookback window, so memory is bounded by the window, not by uptime.
//!
//! A window may hold a million tasks, so each is kept as a [`TaskRecord`] (about 80 bytes and
//! its id) rather than as a [`Task`], in a vector ordered by start time: the range a sweep
//! replaces and the part that leaves the lookback are both one end of it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::task::{Task, TaskStatus};

/// A task as a window keeps it: what sweeps and scrapes use of it and no more (no instance
/// name, no message), its instance and task type shared with the other tasks of its sweep that
/// name them.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub id: Box<str>,
    pub instance_id: Arc<str>,
    pub task_type: Arc<str>,
    pub status: TaskStatus,
    /// Milliseconds since the epoch.
    start_ms: i64,
    /// Milliseconds since the epoch, [`NO_TIME`] until the task has finished.
    end_ms: i64,
    /// A ratio in `0..=1`, NaN when the provider reports none (a [`Task`]'s progress is
    /// never NaN).
    progress: f64,
}

/// Field by field, progress as [`TaskRecord::progress`] (its NaN, "none", equals itself).
impl PartialEq for TaskRecord {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.instance_id == other.instance_id
            && self.task_type == other.task_type
            && self.status == other.status
            && self.start_ms == other.start_ms
            && self.end_ms == other.end_ms
            && self.progress() == other.progress()
    }
}

/// `end_ms` of a task with no end time.
const NO_TIME: i64 = i64::MIN;

impl From<Task> for TaskRecord {
    fn from(task: Task) -> Self {
        let instance_id = task.instance_id.as_str().into();
        let task_type = task.task_type.as_str().into();
        TaskRecord::with_names(task, instance_id, task_type)
    }
}

impl TaskRecord {
    /// `task`, with its instance and task type given as shared strings.
    fn with_names(task: Task, instance_id: Arc<str>, task_type: Arc<str>) -> Self {
        TaskRecord {
            id: task.id.into_boxed_str(),
            instance_id,
            task_type,
            status: task.status,
            start_ms: task.start_time.timestamp_millis(),
            end_ms: task.end_time.map_or(NO_TIME, |t| t.timestamp_millis()),
            progress: task.progress.filter(|p| !p.is_nan()).unwrap_or(f64::NAN),
        }
    }

    pub fn start_time(&self) -> DateTime<Utc> {
        from_ms(self.start_ms)
    }

    pub fn end_time(&self) -> Option<DateTime<Utc>> {
        (self.end_ms != NO_TIME).then(|| from_ms(self.end_ms))
    }

    pub fn progress(&self) -> Option<f64> {
        (!self.progress.is_nan()).then_some(self.progress)
    }

    /// Seconds from start to end, for finished tasks whose end is not before their start.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.end_time()?;
        let millis = self.end_ms.checked_sub(self.start_ms)?;
        (millis >= 0).then(|| millis as f64 / 1000.0)
    }

    /// What the window and the sets tell tasks apart by: a CDB task naming several instances
    /// is one record for each.
    fn key(&self) -> (&str, &str) {
        (&self.id, &self.instance_id)
    }

    /// The window's order: by start, then by key, so that equal starts have a stable order.
    fn order(&self) -> (i64, &str, &str) {
        (self.start_ms, &self.id, &self.instance_id)
    }
}

/// A chrono time from milliseconds that came from one (so always in its range).
fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// What one sweep fetched, deduplicated by (task id, instance) when taken into the window (the
/// last fetched wins), its instance and task type strings stored once.
#[derive(Debug, Default)]
pub struct TaskSet {
    tasks: Vec<TaskRecord>,
    names: HashSet<Arc<str>>,
}

impl TaskSet {
    pub fn with_capacity(capacity: usize) -> Self {
        TaskSet {
            tasks: Vec::with_capacity(capacity),
            names: HashSet::new(),
        }
    }

    /// Adds a task, replacing one with the same id and instance.
    pub fn insert(&mut self, task: Task) {
        let instance_id = self.name(&task.instance_id);
        let task_type = self.name(&task.task_type);
        self.tasks
            .push(TaskRecord::with_names(task, instance_id, task_type));
    }

    fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.names.get(name) {
            return known.clone();
        }
        let name: Arc<str> = name.into();
        self.names.insert(name.clone());
        name
    }

    /// The tasks, one per (id, instance), the last added winning, in the window's order.
    fn into_records(self) -> Vec<TaskRecord> {
        let mut tasks = self.tasks;
        // Newest additions first, so that the stable sort keeps them first among equals and
        // the dedup keeps them.
        tasks.reverse();
        tasks.sort_by(|a, b| a.key().cmp(&b.key()));
        tasks.dedup_by(|later, earlier| later.key() == earlier.key());
        tasks.sort_by(|a, b| a.order().cmp(&b.order()));
        tasks
    }
}

impl From<Vec<Task>> for TaskSet {
    fn from(tasks: Vec<Task>) -> Self {
        tasks.into_iter().collect()
    }
}

impl FromIterator<Task> for TaskSet {
    fn from_iter<I: IntoIterator<Item = Task>>(tasks: I) -> Self {
        let mut set = TaskSet::default();
        for task in tasks {
            set.insert(task);
        }
        set
    }
}

/// The tasks of one target's lookback window.
#[derive(Debug, Default)]
pub struct TaskWindow {
    /// In [`TaskRecord::order`], one per (id, instance).
    tasks: Vec<TaskRecord>,
    /// Whether a first, whole-window sweep has been merged: what it found finished is the
    /// baseline, not news.
    baseline_taken: bool,
    /// Where the last [`TaskWindow::prune`] cut the window (milliseconds since the epoch): a
    /// task an answer dates before it is one the window may have held and let go, so its
    /// being finished is news only if the window still held it unfinished.
    pruned_before: Option<i64>,
}

impl TaskWindow {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Where the next sweep should start asking: never before `window_start`, and never
    /// after `now` less the overlap, whatever start times the provider reported.
    pub fn query_start(
        &self,
        window_start: DateTime<Utc>,
        now: DateTime<Utc>,
        overlap: Duration,
    ) -> DateTime<Utc> {
        if !self.baseline_taken {
            return window_start;
        }
        // Ordered by start: the first unfinished is the oldest, the last task the newest.
        let oldest_unfinished = self.tasks.iter().find(|t| !t.status.is_finished());
        match oldest_unfinished.or(self.tasks.last()) {
            Some(watermark) => {
                let overlap = chrono::Duration::from_std(overlap).unwrap_or_default();
                // A start at the very beginning of chrono's range has nothing before it.
                let mark = watermark.start_time().min(now);
                mark.checked_sub_signed(overlap)
                    .unwrap_or(mark)
                    .max(window_start)
            }
            None => window_start,
        }
    }

    /// Takes in the complete answer for tasks that started at or after `from`: it replaces
    /// what the window held for that range. Returns the tasks seen finishing for the first
    /// time, which is none on the first merge (the baseline).
    pub fn merge(&mut self, from: DateTime<Utc>, fetched: impl Into<TaskSet>) -> Vec<TaskRecord> {
        let fetched = fetched.into().into_records();
        let from = from.timestamp_millis();
        // What the window held for the range is the end of the vector.
        let split = self.tasks.partition_point(|t| t.start_ms < from);
        let replaced = self.tasks.split_off(split);
        let fetched_keys: HashSet<(&str, &str)> = fetched.iter().map(TaskRecord::key).collect();
        let mut newly_finished = Vec::new();
        if self.baseline_taken {
            // Held: in the range, or (a start that moved) before it; finished before: held
            // finished.
            let mut held: HashSet<(&str, &str)> = HashSet::new();
            let mut finished_before: HashSet<(&str, &str)> = HashSet::new();
            for task in replaced.iter().chain(&self.tasks) {
                if fetched_keys.contains(&task.key()) {
                    held.insert(task.key());
                    if task.status.is_finished() {
                        finished_before.insert(task.key());
                    }
                }
            }
            // A task dated before where the window was last cut and not held (any more): it
            // may have been counted before it left, so it is not news.
            let floor = self.pruned_before.unwrap_or(i64::MIN);
            newly_finished = fetched
                .iter()
                .filter(|t| {
                    t.status.is_finished()
                        && !finished_before.contains(&t.key())
                        && (t.start_ms >= floor || held.contains(&t.key()))
                })
                .cloned()
                .collect();
        }
        // The fetched answer wins over a task kept from before the range (its start moved).
        self.tasks.retain(|t| !fetched_keys.contains(&t.key()));
        drop(fetched_keys);
        drop(replaced);
        if self.tasks.is_empty() {
            self.tasks = fetched;
        } else {
            self.tasks.extend(fetched);
            // Two ordered runs: the sort merges them.
            self.tasks.sort_by(|a, b| a.order().cmp(&b.order()));
        }
        self.baseline_taken = true;
        newly_finished
    }

    /// Forgets the tasks that started before `window_start`.
    pub fn prune(&mut self, window_start: DateTime<Utc>) {
        let start = window_start.timestamp_millis();
        let gone = self.tasks.partition_point(|t| t.start_ms < start);
        self.tasks.drain(..gone);
        self.pruned_before = Some(start);
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut counts: BTreeMap<(Arc<str>, Arc<str>), [u64; TaskStatus::ALL.len()]> =
            BTreeMap::new();
        let mut unfinished = Vec::new();
        for task in &self.tasks {
            let status = TaskStatus::ALL
                .iter()
                .position(|s| *s == task.status)
                .unwrap_or(TaskStatus::ALL.len() - 1);
            let by_status = counts
                .entry((task.instance_id.clone(), task.task_type.clone()))
                .or_default();
            if let Some(count) = by_status.get_mut(status) {
                *count += 1;
            }
            if !task.status.is_finished() {
                // Already oldest first.
                unfinished.push(task.clone());
            }
        }
        Snapshot {
            counts,
            unfinished,
            total: self.tasks.len(),
        }
    }
}

/// What a scrape shows of a target's window, computed once per sweep: counts, not tasks, so
/// that reusing a sweep is cheap and memory is not doubled.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Snapshot {
    /// Tasks per (instance, task type), by status in [`TaskStatus::ALL`] order; every
    /// (instance, task type) in the window has all statuses.
    pub counts: BTreeMap<(Arc<str>, Arc<str>), [u64; TaskStatus::ALL.len()]>,
    /// The tasks that have not finished, oldest first, for progress and start times.
    pub unfinished: Vec<TaskRecord>,
    /// All tasks in the window.
    pub total: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes_ago: i64) -> DateTime<Utc> {
        "2026-01-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
            - chrono::Duration::minutes(minutes_ago)
    }

    fn task(id: &str, minutes_ago: i64, status: TaskStatus) -> Task {
        Task {
            id: id.into(),
            task_type: "RestoreDatabase".into(),
            instance_id: "i-1".into(),
            instance_name: None,
            status,
            progress: None,
            start_time: at(minutes_ago),
            end_time: None,
            message: None,
        }
    }

    const OVERLAP: Duration = Duration::from_secs(120);

    #[test]
    fn the_first_sweep_asks_for_the_whole_window_and_is_the_baseline() {
        let mut window = TaskWindow::default();
        assert_eq!(window.query_start(at(600), at(0), OVERLAP), at(600));
        let newly = window.merge(
            at(600),
            vec![
                task("1", 500, TaskStatus::Failed),
                task("2", 100, TaskStatus::Running),
            ],
        );
        assert!(newly.is_empty());
        assert_eq!(window.len(), 2);
    }

    #[test]
    fn later_sweeps_start_at_the_oldest_unfinished_task_less_the_overlap() {
        let mut window = TaskWindow::default();
        window.merge(
            at(600),
            vec![
                task("1", 500, TaskStatus::Failed),
                task("2", 100, TaskStatus::Running),
                task("3", 50, TaskStatus::Succeeded),
            ],
        );
        assert_eq!(window.query_start(at(600), at(0), OVERLAP), at(102));
        // Task 2 finishes; now everything is finished and the newest start (3) is the mark.
        let newly = window.merge(
            at(102),
            vec![
                task("2", 100, TaskStatus::Succeeded),
                task("3", 50, TaskStatus::Succeeded),
            ],
        );
        assert_eq!(newly.iter().map(|t| &*t.id).collect::<Vec<_>>(), ["2"]);
        assert_eq!(window.query_start(at(600), at(0), OVERLAP), at(52));
        // The mark never goes before the window.
        assert_eq!(window.query_start(at(51), at(0), OVERLAP), at(51));
    }

    #[test]
    fn a_task_dated_in_the_future_does_not_pin_the_watermark() {
        let mut window = TaskWindow::default();
        let far_future = "9999-12-31T23:59:59Z".parse::<DateTime<Utc>>().unwrap();
        let mut odd = task("1", 0, TaskStatus::Succeeded);
        odd.start_time = far_future;
        window.merge(at(600), vec![odd, task("2", 30, TaskStatus::Succeeded)]);
        assert_eq!(window.query_start(at(600), at(0), OVERLAP), at(2));
        let mut running = task("3", 0, TaskStatus::Running);
        running.start_time = far_future;
        window.merge(at(2), vec![running]);
        assert_eq!(window.query_start(at(600), at(0), OVERLAP), at(2));
    }

    #[test]
    fn a_finished_task_is_news_once() {
        let mut window = TaskWindow::default();
        window.merge(at(600), vec![task("1", 10, TaskStatus::Running)]);
        let newly = window.merge(at(12), vec![task("1", 10, TaskStatus::Failed)]);
        assert_eq!(newly.len(), 1);
        let newly = window.merge(at(12), vec![task("1", 10, TaskStatus::Failed)]);
        assert!(newly.is_empty());
        // A new task that is already finished when first seen is news too.
        let newly = window.merge(
            at(12),
            vec![
                task("1", 10, TaskStatus::Failed),
                task("2", 5, TaskStatus::Succeeded),
            ],
        );
        assert_eq!(newly.iter().map(|t| &*t.id).collect::<Vec<_>>(), ["2"]);
    }

    #[test]
    fn the_answer_replaces_its_range_and_keeps_the_rest() {
        let mut window = TaskWindow::default();
        window.merge(
            at(600),
            vec![
                task("old", 300, TaskStatus::Succeeded),
                task("gone", 20, TaskStatus::Running),
            ],
        );
        // "gone" is no longer listed by the API for its range: it goes.
        window.merge(at(22), vec![task("new", 1, TaskStatus::Running)]);
        let snapshot = window.snapshot();
        assert_eq!(snapshot.total, 2);
        assert_eq!(
            snapshot
                .unfinished
                .iter()
                .map(|t| &*t.id)
                .collect::<Vec<_>>(),
            ["new"]
        );
    }

    #[test]
    fn tasks_leaving_the_window_are_forgotten() {
        let mut window = TaskWindow::default();
        window.merge(
            at(600),
            (0..100)
                .map(|i| task(&i.to_string(), 500 - i, TaskStatus::Succeeded))
                .collect::<Vec<_>>(),
        );
        window.prune(at(450));
        // Started 500, 499, ... 401 minutes ago: those from 450 on stay.
        assert_eq!(window.len(), 50);
    }

    #[test]
    fn a_task_of_several_instances_is_one_entry_per_instance() {
        let mut window = TaskWindow::default();
        let mut other = task("1", 10, TaskStatus::Running);
        other.instance_id = "i-2".into();
        window.merge(at(600), vec![task("1", 10, TaskStatus::Running), other]);
        let snapshot = window.snapshot();
        assert_eq!(snapshot.total, 2);
        assert_eq!(snapshot.counts.len(), 2);
        assert_eq!(
            snapshot.counts[&("i-2".into(), "RestoreDatabase".into())][1],
            1
        );
    }

    #[test]
    fn the_last_of_duplicates_in_an_answer_wins() {
        let mut window = TaskWindow::default();
        window.merge(
            at(600),
            vec![
                task("1", 10, TaskStatus::Running),
                task("1", 10, TaskStatus::Failed),
                task("2", 5, TaskStatus::Succeeded),
                task("2", 5, TaskStatus::Running),
            ],
        );
        let snapshot = window.snapshot();
        assert_eq!(snapshot.total, 2);
        let ids: Vec<&str> = snapshot.unfinished.iter().map(|t| &*t.id).collect();
        assert_eq!(ids, ["2"]);
    }

    #[test]
    fn a_task_whose_start_moved_is_kept_once_as_last_fetched() {
        let mut window = TaskWindow::default();
        window.merge(
            at(600),
            vec![
                task("moved", 300, TaskStatus::Running),
                task("old", 200, TaskStatus::Succeeded),
            ],
        );
        // The API now dates "moved" inside the range asked for, and finished: one task,
        // news once.
        let newly = window.merge(at(60), vec![task("moved", 30, TaskStatus::Failed)]);
        assert_eq!(newly.len(), 1);
        assert_eq!(window.len(), 2);
        let snapshot = window.snapshot();
        assert!(snapshot.unfinished.is_empty());
        // And an answer dating a finished task before the range does not count it again.
        let newly = window.merge(
            at(60),
            vec![
                task("old", 250, TaskStatus::Succeeded),
                task("moved", 30, TaskStatus::Failed),
            ],
        );
        assert!(newly.is_empty());
        assert_eq!(window.len(), 2);
        // The window is still in start order: pruning cuts exactly the old part.
        window.prune(at(100));
        assert_eq!(window.len(), 1);
    }

    #[test]
    fn a_finished_task_the_api_dates_before_the_window_is_counted_once() {
        // The API filters on a task's real start (12:00:30) but answers with it to the minute
        // (12:00), as an answer may: at the end of the lookback, the task is still in the
        // answers while its reported start has left the window.
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let lookback = chrono::Duration::hours(24);
        let real_start = t("2026-01-01T12:00:30Z");
        let reported = |status| {
            let mut task = task("edge", 0, status);
            task.start_time = t("2026-01-01T12:00:00Z");
            task
        };
        let mut window = TaskWindow::default();
        let mut sweep = |now: DateTime<Utc>, status| {
            let window_start = now - lookback;
            let from = window.query_start(window_start, now, OVERLAP);
            let answer: Vec<Task> = if (from..=now).contains(&real_start) {
                vec![reported(status)]
            } else {
                Vec::new()
            };
            let newly = window.merge(from, answer).len();
            window.prune(window_start);
            newly
        };
        // Seen running, then failed: news once.
        assert_eq!(sweep(t("2026-01-01T12:00:45Z"), TaskStatus::Running), 0);
        let mut counted = sweep(t("2026-01-01T12:05:00Z"), TaskStatus::Failed);
        assert_eq!(counted, 1);
        // A day later, scraped every 15 s as the task leaves the window.
        let mut now = t("2026-01-02T11:59:00Z");
        while now < t("2026-01-02T12:02:00Z") {
            counted += sweep(now, TaskStatus::Failed);
            now += chrono::Duration::seconds(15);
        }
        assert_eq!(counted, 1, "a task that failed a day ago was counted again");
    }

    #[test]
    fn a_snapshot_equals_itself() {
        let mut window = TaskWindow::default();
        window.merge(at(600), vec![task("1", 10, TaskStatus::Running)]);
        let snapshot = window.snapshot();
        assert_eq!(snapshot, snapshot.clone());
    }

    #[test]
    fn records_keep_what_scrapes_and_durations_need() {
        let mut finished = task("1", 10, TaskStatus::Succeeded);
        finished.end_time = Some(at(8));
        finished.progress = Some(1.0);
        let record = TaskRecord::from(finished.clone());
        assert_eq!(record.start_time(), finished.start_time);
        assert_eq!(record.end_time(), finished.end_time);
        assert_eq!(record.progress(), Some(1.0));
        assert_eq!(record.duration_seconds(), finished.duration_seconds());
        let running = TaskRecord::from(task("2", 10, TaskStatus::Running));
        assert_eq!((running.end_time(), running.progress()), (None, None));
        assert_eq!(running.duration_seconds(), None);
    }

    #[test]
    fn a_task_at_the_start_of_time_does_not_break_the_watermark() {
        let mut window = TaskWindow::default();
        let mut first = task("1", 0, TaskStatus::Running);
        first.start_time = DateTime::<Utc>::MIN_UTC;
        let origin = DateTime::<Utc>::MIN_UTC;
        window.merge(origin, vec![first]);
        assert_eq!(window.query_start(origin, at(0), OVERLAP), origin);
    }
}
