//! What a target remembers between sweeps: the tasks of its lookback window.
//!
//! Finished tasks never change, so after the first sweep only the part of the window that
//! can still change is asked for again: from the start of the oldest unfinished task (or the
//! newest start seen, when every task has finished) less an overlap. The answer for that
//! range replaces what the window held for it; the rest is kept. Tasks are dropped as they
//! leave the lookback window, so memory is bounded by the window, not by uptime.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::task::{Task, TaskStatus};

/// A task as a set member, identified by (task id, instance): a CDB task naming several
/// instances is one member for each. The task is its own key, so no id is stored twice,
/// which matters at a hundred thousand tasks.
#[derive(Debug)]
struct Entry(Task);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id && self.0.instance_id == other.0.instance_id
    }
}

impl Eq for Entry {}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
        self.0.instance_id.hash(state);
    }
}

/// Tasks deduplicated by (task id, instance): what one sweep fetched.
#[derive(Debug, Default)]
pub struct TaskSet(HashSet<Entry>);

impl TaskSet {
    pub fn with_capacity(capacity: usize) -> Self {
        TaskSet(HashSet::with_capacity(capacity))
    }

    /// Adds a task, replacing one with the same id and instance.
    pub fn insert(&mut self, task: Task) {
        self.0.replace(Entry(task));
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
    tasks: HashSet<Entry>,
    /// Whether a first, whole-window sweep has been merged: what it found finished is the
    /// baseline, not news.
    baseline_taken: bool,
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
        let oldest_unfinished = self
            .tasks
            .iter()
            .filter(|e| !e.0.status.is_finished())
            .map(|e| e.0.start_time)
            .min();
        let newest = || self.tasks.iter().map(|e| e.0.start_time).max();
        match oldest_unfinished.or_else(newest) {
            Some(watermark) => {
                let overlap = chrono::Duration::from_std(overlap).unwrap_or_default();
                (watermark.min(now) - overlap).max(window_start)
            }
            None => window_start,
        }
    }

    /// Takes in the complete answer for tasks that started at or after `from`: it replaces
    /// what the window held for that range. Returns the tasks seen finishing for the first
    /// time, which is none on the first merge (the baseline).
    pub fn merge(&mut self, from: DateTime<Utc>, fetched: impl Into<TaskSet>) -> Vec<Task> {
        let mut fetched = fetched.into().0;
        // What the window held for the range, taken out in place: no rebuilding of the
        // (large) window, which would cost time and, briefly, twice its memory.
        let replaced: HashSet<Entry> = self
            .tasks
            .extract_if(|entry| entry.0.start_time >= from)
            .collect();
        let mut newly_finished = Vec::new();
        if self.baseline_taken {
            for entry in &fetched {
                let was_finished = replaced
                    .get(entry)
                    .or_else(|| self.tasks.get(entry))
                    .is_some_and(|e| e.0.status.is_finished());
                if entry.0.status.is_finished() && !was_finished {
                    newly_finished.push(entry.0.clone());
                }
            }
        }
        // Move the smaller set into the larger one, which is the first sweep's whole answer
        // or the window kept from before.
        if fetched.len() > self.tasks.len() {
            std::mem::swap(&mut fetched, &mut self.tasks);
            for entry in fetched {
                // The fetched answer wins: keep it where both have a task.
                if !self.tasks.contains(&entry) {
                    self.tasks.insert(entry);
                }
            }
        } else {
            for entry in fetched {
                self.tasks.replace(entry);
            }
        }
        self.baseline_taken = true;
        newly_finished
    }

    /// Forgets the tasks that started before `window_start`.
    pub fn prune(&mut self, window_start: DateTime<Utc>) {
        self.tasks.retain(|e| e.0.start_time >= window_start);
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut counts: BTreeMap<(String, String), [u64; TaskStatus::ALL.len()]> = BTreeMap::new();
        let mut unfinished = Vec::new();
        for Entry(task) in &self.tasks {
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
                unfinished.push(task.clone());
            }
        }
        unfinished.sort_by(|a, b| {
            (a.start_time, &a.id, &a.instance_id).cmp(&(b.start_time, &b.id, &b.instance_id))
        });
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
    pub counts: BTreeMap<(String, String), [u64; TaskStatus::ALL.len()]>,
    /// The tasks that have not finished, oldest first, for progress and start times.
    pub unfinished: Vec<Task>,
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
        assert_eq!(
            newly.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["2"]
        );
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
        assert_eq!(
            newly.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["2"]
        );
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
                .map(|t| t.id.as_str())
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
            snapshot.counts[&("i-2".to_owned(), "RestoreDatabase".to_owned())][1],
            1
        );
    }
}
