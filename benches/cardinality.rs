//! Exposition size and series count at 1,000 instances x 10 task types in one target, with
//! and without the series budget (`global.series`), as README reports them.
//!
//! `cargo bench --bench cardinality`
//!
//! The window: every (instance, task type) pair has finished tasks, and one pair in ten has a
//! task running (1,000 unfinished tasks, each with a progress and a start time).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use cloud_task_exporter::metrics::{Budget, Format, Metrics};
use cloud_task_exporter::sweep::{Snapshot, SweepReport, TargetId, TaskRecord};
use cloud_task_exporter::task::{Task, TaskStatus};

const INSTANCES: usize = 1_000;
const TASK_TYPES: usize = 10;

fn report() -> Arc<SweepReport> {
    let now = Utc::now();
    let mut counts = BTreeMap::new();
    let mut unfinished = Vec::new();
    for instance in 0..INSTANCES {
        for task_type in 0..TASK_TYPES {
            let mut by_status = [0u64; TaskStatus::ALL.len()];
            by_status[3] = 3; // succeeded
            if (instance * TASK_TYPES + task_type).is_multiple_of(10) {
                by_status[1] = 1; // running
                unfinished.push(TaskRecord::from(Task {
                    id: format!("task-{instance}-{task_type}"),
                    task_type: format!("TaskType{task_type}"),
                    instance_id: format!("instance-{instance:04}"),
                    instance_name: None,
                    status: TaskStatus::Running,
                    progress: Some(0.5),
                    start_time: now - chrono::Duration::seconds((instance * 7 + task_type) as i64),
                    end_time: None,
                    message: None,
                }));
            }
            counts.insert(
                (
                    format!("instance-{instance:04}").into(),
                    format!("TaskType{task_type}").into(),
                ),
                by_status,
            );
        }
    }
    unfinished.sort_by_key(|t| t.start_time());
    Arc::new(SweepReport {
        result: Ok(Snapshot {
            total: counts.len() * 3 + unfinished.len(),
            counts,
            unfinished,
        }),
        started_at: now,
        duration: std::time::Duration::from_millis(10),
        last_success: Some(now),
    })
}

fn main() {
    let target = TargetId {
        account: "prod".into(),
        kind: "tencent_postgres",
        region: "ap-guangzhou".into(),
    };
    let report = report();
    println!("| budget | series | exposition (text format) | encode time |");
    println!("|---|---|---|---|");
    for (name, budget) in [
        ("none (the defaults allow it all)", Budget::default()),
        (
            "`zero_statuses: false`",
            Budget {
                zero_statuses: false,
                ..Budget::default()
            },
        ),
        (
            "`zero_statuses: false`, `per_target: 500`",
            Budget {
                per_target: 500,
                total: u64::MAX,
                zero_statuses: false,
            },
        ),
    ] {
        let metrics = Metrics::new(&[60.0], true);
        metrics.register_target(&target);
        metrics.set_budget(budget);
        let reports = vec![(target.clone(), report.clone())];
        let started = std::time::Instant::now();
        let text = metrics.encode(&reports, &[], Format::Text);
        let took = started.elapsed();
        let series = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
        println!(
            "| {name} | {series} | {:.1} MiB | {:.0} ms |",
            text.len() as f64 / (1 << 20) as f64,
            took.as_secs_f64() * 1000.0
        );
    }
}
