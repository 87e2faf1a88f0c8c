//! The provider-neutral task model every provider's response is normalised into.

use chrono::{DateTime, Utc};

/// A task's normalised status. Raw provider values that map to none of the known ones become
/// [`TaskStatus::Unknown`] (and are logged once by the sweep).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskStatus {
    Pending,
    Running,
    Paused,
    Succeeded,
    Failed,
    Cancelled,
    Unknown,
}

impl TaskStatus {
    /// Every status, in exposition order: `cloud_task_tasks` shows each of them for every
    /// (instance, task type) seen, so that `sum by (status)` never has holes.
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Paused,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
        TaskStatus::Unknown,
    ];

    /// The `status` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Paused => "paused",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Unknown => "unknown",
        }
    }

    /// Finished tasks never change again; this is what makes incremental sweeps and the
    /// deduplicated `cloud_task_finished_total` possible.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// One asynchronous task of a managed database, as every provider's response is normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The provider's task id, as a string (Tencent ids are integers, Huawei's are UUIDs).
    pub id: String,
    pub task_type: String,
    pub instance_id: String,
    pub instance_name: Option<String>,
    pub status: TaskStatus,
    /// Progress as a ratio in `0..=1`, when the provider reports one.
    pub progress: Option<f64>,
    pub start_time: DateTime<Utc>,
    /// Present once the task has finished.
    pub end_time: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

impl Task {
    /// Seconds from start to end, for finished tasks whose end is not before their start.
    pub fn duration_seconds(&self) -> Option<f64> {
        let end = self.end_time?;
        let millis = (end - self.start_time).num_milliseconds();
        (millis >= 0).then(|| millis as f64 / 1000.0)
    }
}

/// Converts a percentage (0-100, as PostgreSQL, MySQL and Huawei report progress) into a ratio,
/// clamped to `0..=1`; `None` for values that are not finite.
pub fn percent_to_ratio(percent: f64) -> Option<f64> {
    percent
        .is_finite()
        .then(|| (percent / 100.0).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_clamped_ratio() {
        assert_eq!(percent_to_ratio(40.0), Some(0.4));
        assert_eq!(percent_to_ratio(140.0), Some(1.0));
        assert_eq!(percent_to_ratio(-3.0), Some(0.0));
        assert_eq!(percent_to_ratio(f64::NAN), None);
    }

    #[test]
    fn only_terminal_statuses_are_finished() {
        let finished: Vec<_> = TaskStatus::ALL
            .into_iter()
            .filter(|s| s.is_finished())
            .collect();
        assert_eq!(
            finished,
            [
                TaskStatus::Succeeded,
                TaskStatus::Failed,
                TaskStatus::Cancelled
            ]
        );
    }
}
