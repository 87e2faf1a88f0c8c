//! RDS `GET /v3/{project_id}/tasklist`: `offset`, `limit` 1-50, `start_time` and `end_time`
//! (UTC milliseconds, both or neither) on the creation time, newest first, and the task shape
//! of the reference page.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::huawei::{ApiFault, Resource, int, invalid, millis};
use super::world::{SimState, SimTask};
use super::{Api, Route, Sample, Simulator};

/// `GET /v3/{project_id}/tasklist`.
pub const ROUTE: Route = Route {
    kind: "huawei_rds",
    api: Api::Huawei(Resource {
        version: "v3",
        resource: "tasklist",
        handler: list_tasks,
    }),
    sample: Sample {
        regions: ["cn-north-4", "cn-east-3"],
        task_types: &[
            "CreateMysqlInstance",
            "RestoreMysqlInInstance",
            "CreateManualBackup",
            "ResizeFlavor",
            "RebootInstance",
            "ModifyParameters",
        ],
        instance_prefix: "rds-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};

pub fn list_tasks(
    sim: &Simulator,
    region: &str,
    query: &[(String, String)],
) -> Result<Value, ApiFault> {
    let offset = int(query, "offset", 0, 0..=usize::MAX)?;
    let limit = int(query, "limit", 10, 1..=50)?;
    let now = Utc::now();
    let (start, end) = match (millis(query, "start_time")?, millis(query, "end_time")?) {
        (Some(start), Some(end)) => (start, end),
        (None, None) => (now - chrono::Duration::days(30), now),
        _ => {
            return Err(invalid(
                "start_time and end_time must be specified together.".into(),
            ));
        }
    };
    let world = sim.world();
    let matching = world.started("huawei_rds", region, start..=end, now, true);
    let mut actions: Vec<&str> = matching.iter().map(|(t, _)| t.task_type.as_str()).collect();
    actions.sort_unstable();
    actions.dedup();
    let tasks: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(task, state)| render(task, *state))
        .collect();
    Ok(json!({ "tasks": tasks, "actions": actions, "total_count": matching.len() }))
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

fn render(task: &SimTask, state: SimState) -> Value {
    let (status, process, end, instance_status) = match state {
        // Both spellings of `process` occur; odd ids get the `%`.
        SimState::Running { progress } | SimState::Paused { progress } => (
            "Running",
            format!(
                "{}{}",
                (progress * 100.0).floor() as i64,
                if task.id % 2 == 1 { "%" } else { "" }
            ),
            // For a running task, the planned end.
            task.planned_end(),
            "BACKING UP",
        ),
        SimState::Succeeded { end } => ("Completed", String::new(), Some(end), "ACTIVE"),
        SimState::Failed { end } => ("Failed", String::new(), Some(end), "ACTIVE"),
    };
    json!({
        "id": format!("{:032x}", task.id),
        "name": task.task_type,
        "instance_id": task.instance_id(),
        "instance_name": format!("name-{}", task.instance_id()),
        "instance_status": instance_status,
        "order_id": "",
        "process": process,
        "fail_reason": match state {
            SimState::Failed { .. } => task.message.clone().unwrap_or_else(|| "Task failed".into()),
            _ => String::new(),
        },
        "create_time": time(task.start),
        "end_time": end.map(time).unwrap_or_default(),
        "status": status,
    })
}
