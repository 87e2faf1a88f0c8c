//! The simulated tasks: each has a start, a planned duration and an outcome, so its state at
//! any instant is a pure function of the clock.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// How a simulated task ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimOutcome {
    Succeed,
    Fail,
    /// Stops partway and waits (PostgreSQL's `Pause`).
    Pause,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimTask {
    pub id: u64,
    /// The provider's own task type (a CDB name such as `MODIFY PARAM`, a Redis code such as
    /// `"034"`), rendered as that API writes it.
    pub task_type: String,
    /// The instances the task names: one, except for CDB's batch tasks.
    pub instance_ids: Vec<String>,
    pub start: DateTime<Utc>,
    /// How long it runs; `None` runs forever (a stuck task), at `stuck_progress`.
    pub duration: Option<Duration>,
    pub outcome: SimOutcome,
    /// Progress (0..1) of a task that never ends or is paused.
    pub stuck_progress: f64,
    pub message: Option<String>,
}

/// What a task looks like at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SimState {
    Running { progress: f64 },
    Paused { progress: f64 },
    Succeeded { end: DateTime<Utc> },
    Failed { end: DateTime<Utc> },
}

impl SimTask {
    /// The first instance the task names.
    pub fn instance_id(&self) -> &str {
        self.instance_ids.first().map_or("", String::as_str)
    }

    /// When the task is planned to end, if it ever does.
    pub fn planned_end(&self) -> Option<DateTime<Utc>> {
        Some(self.start + chrono::Duration::from_std(self.duration?).ok()?)
    }

    /// The task's state at `now`, `None` before it starts.
    pub fn state_at(&self, now: DateTime<Utc>) -> Option<SimState> {
        if self.start > now {
            return None;
        }
        let Some(duration) = self.duration else {
            return Some(match self.outcome {
                SimOutcome::Pause => SimState::Paused {
                    progress: self.stuck_progress,
                },
                _ => SimState::Running {
                    progress: self.stuck_progress,
                },
            });
        };
        let elapsed = (now - self.start).to_std().unwrap_or_default();
        let end = self.start + chrono::Duration::from_std(duration).unwrap_or_default();
        if elapsed < duration {
            let progress = elapsed.as_secs_f64() / duration.as_secs_f64().max(f64::MIN_POSITIVE);
            return Some(SimState::Running { progress });
        }
        Some(match self.outcome {
            SimOutcome::Succeed => SimState::Succeeded { end },
            SimOutcome::Fail => SimState::Failed { end },
            SimOutcome::Pause => SimState::Paused {
                progress: self.stuck_progress,
            },
        })
    }
}

/// Every simulated task, by API kind and region.
#[derive(Debug, Default)]
pub struct World {
    tasks: HashMap<(String, String), Vec<SimTask>>,
}

impl World {
    pub fn add(&mut self, kind: &str, region: &str, tasks: impl IntoIterator<Item = SimTask>) {
        self.tasks
            .entry((kind.to_owned(), region.to_owned()))
            .or_default()
            .extend(tasks);
    }

    pub fn tasks(&self, kind: &str, region: &str) -> &[SimTask] {
        self.tasks
            .get(&(kind.to_owned(), region.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The tasks of `kind` in `region` that have started by `now` and started within
    /// `starts`, with their state at `now`, ordered by start (then id), newest first when
    /// `newest_first`.
    pub fn started(
        &self,
        kind: &str,
        region: &str,
        starts: std::ops::RangeInclusive<DateTime<Utc>>,
        now: DateTime<Utc>,
        newest_first: bool,
    ) -> Vec<(&SimTask, SimState)> {
        let mut matching: Vec<(&SimTask, SimState)> = self
            .tasks(kind, region)
            .iter()
            .filter(|t| starts.contains(&t.start))
            .filter_map(|t| Some((t, t.state_at(now)?)))
            .collect();
        matching.sort_by_key(|(t, _)| (t.start, t.id));
        if newest_first {
            matching.reverse();
        }
        matching
    }

    /// Changes one task (e.g. to finish it now); false if there is none with that id.
    pub fn update(
        &mut self,
        kind: &str,
        region: &str,
        id: u64,
        change: impl FnOnce(&mut SimTask),
    ) -> bool {
        let task = self
            .tasks
            .get_mut(&(kind.to_owned(), region.to_owned()))
            .and_then(|tasks| tasks.iter_mut().find(|t| t.id == id));
        task.map(change).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_runs_then_ends_as_planned() {
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let task = SimTask {
            id: 1,
            task_type: "RestoreDatabase".into(),
            instance_ids: vec!["postgres-1".into()],
            start,
            duration: Some(Duration::from_secs(100)),
            outcome: SimOutcome::Fail,
            stuck_progress: 0.0,
            message: None,
        };
        let at = |secs| start + chrono::Duration::seconds(secs);
        assert_eq!(task.state_at(at(-1)), None);
        assert_eq!(
            task.state_at(at(25)),
            Some(SimState::Running { progress: 0.25 })
        );
        assert_eq!(
            task.state_at(at(100)),
            Some(SimState::Failed { end: at(100) })
        );
    }
}
