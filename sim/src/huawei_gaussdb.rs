//! GaussDB (for openGauss) `GET /v3/{project_id}/tasks`, as its reference page describes it:
//! `offset` counts records (default 0), `limit` 1-100 (default 100), `start_time`/`end_time`
//! in UTC milliseconds, each optional, and only the last month's tasks. Tasks carry
//! `instance_info`, `process` as a percent while running (`null` once finished, as in the
//! Open Telekom Cloud example) and times at Beijing's offset, `+0800`.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::huawei::{ApiFault, Resource, int, millis, write_zoned};
use super::world::{SimState, SimTask};
use super::{Api, Route, Sample, Simulator};

/// `GET /v3/{project_id}/tasks`.
pub const ROUTE: Route = Route {
    kind: "huawei_gaussdb",
    api: Api::Huawei(Resource {
        version: "v3",
        resource: "tasks",
        handler: list_tasks,
    }),
    sample: Sample {
        regions: ["cn-north-4", "cn-east-3"],
        task_types: &[
            "CreateGaussDBV5Instance",
            "BackupSnapshotGaussDBV5InInstance",
            "RestoreGaussDBV5InInstance",
            "EnlargeGaussDBV5Volume",
            "ResizeGaussDBV5Flavor",
            "GaussDBV5ExpandClusterDN",
        ],
        instance_prefix: "gauss-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};

fn list_tasks(
    sim: &Simulator,
    region: &str,
    query: &[(String, String)],
) -> Result<Value, ApiFault> {
    let offset = int(query, "offset", 0, 0..=usize::MAX)?;
    let limit = int(query, "limit", 100, 1..=100)?;
    let now = Utc::now();
    // The last month only, whatever was asked.
    let kept = now - Duration::days(30);
    let start = millis(query, "start_time")?.map_or(kept, |t| t.max(kept));
    let end = millis(query, "end_time")?.unwrap_or(now);
    let world = sim.world();
    let matching = world.started(ROUTE.kind, region, start..=end, now, true);
    let tasks: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(task, state)| render(task, *state))
        .collect();
    Ok(json!({ "tasks": tasks, "total_count": matching.len() }))
}

fn render(task: &SimTask, state: SimState) -> Value {
    let (status, process, end) = match state {
        SimState::Running { progress } | SimState::Paused { progress } => (
            "Running",
            json!(format!("{}%", (progress * 100.0).floor() as i64)),
            None,
        ),
        SimState::Succeeded { end } => ("Completed", Value::Null, Some(end)),
        SimState::Failed { end } => ("Failed", Value::Null, Some(end)),
    };
    json!({
        "instance_info": {
            "instance_id": task.instance_id(),
            "instance_name": format!("name-{}", task.instance_id()),
            "instance_status": "normal",
        },
        "job_id": uuid(task.id),
        "name": task.task_type,
        "status": status,
        "process": process,
        "fail_reason": match state {
            SimState::Failed { .. } => json!(task.message.clone().unwrap_or_else(|| "Task failed".into())),
            _ => Value::Null,
        },
        "created_at": write_zoned(task.start, 8),
        "ended_at": end.map(|t| write_zoned(t, 8)),
    })
}

/// A task id in the answers' UUID form.
pub fn uuid(id: u64) -> String {
    let hex = format!("{:032x}", u128::from(id) | (0xabcd_u128 << 64));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
