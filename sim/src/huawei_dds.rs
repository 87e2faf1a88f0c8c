//! Document Database Service `GET /v3.1/{project_id}/jobs`: `start_time` and `end_time`
//! required, as `yyyy-mm-ddThh:mm:ssZ` with a numeric offset, at most 30 days apart, and only
//! the last month's tasks; `offset` counts records (default 0), `limit` 1-100 (default 100).
//! The answer leaves `total_count` out, as Huawei's Terraform provider says the real one
//! does. `progress` is a percent while running and `""` after; times at `+0000`.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::huawei::{ApiFault, Resource, int, write_zoned, zoned};
use super::world::{SimState, SimTask};
use super::{Api, Route, Sample, Simulator};

/// `GET /v3.1/{project_id}/jobs`.
pub const ROUTE: Route = Route {
    kind: "huawei_dds",
    api: Api::Huawei(Resource {
        version: "v3.1",
        resource: "jobs",
        handler: list_jobs,
    }),
    sample: Sample {
        regions: ["cn-north-4", "eu-west-101"],
        task_types: &[
            "CreateMongoDB",
            "MongodbSnapshotBackup",
            "MongodbRestoreData2CurrentInstance",
            "EnlargeMongoDBVolume",
            "ResizeMongoDBInstance",
            "RestartInstance",
        ],
        instance_prefix: "dds-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};

fn list_jobs(sim: &Simulator, region: &str, query: &[(String, String)]) -> Result<Value, ApiFault> {
    let start = zoned(query, "start_time", "DBS.280067")?
        .ok_or_else(|| ApiFault::new(400, "DBS.280067", "start_time is required."))?;
    let end = zoned(query, "end_time", "DBS.280068")?
        .ok_or_else(|| ApiFault::new(400, "DBS.280068", "end_time is required."))?;
    if end <= start || end - start > Duration::days(30) {
        return Err(ApiFault::new(
            400,
            "DBS.280068",
            "end_time must be after start_time and at most 30 days later.",
        ));
    }
    let offset = int(query, "offset", 0, 0..=usize::MAX)
        .map_err(|_| ApiFault::new(400, "DBS.280440", "Invalid offset."))?;
    let limit = int(query, "limit", 100, 1..=100)
        .map_err(|_| ApiFault::new(400, "DBS.280439", "Invalid limit."))?;
    let now = Utc::now();
    let start = start.max(now - Duration::days(30));
    let world = sim.world();
    let jobs: Vec<Value> = world
        .started(ROUTE.kind, region, start..=end, now, true)
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(task, state)| render(task, *state))
        .collect();
    Ok(json!({ "jobs": jobs }))
}

fn render(task: &SimTask, state: SimState) -> Value {
    let (status, progress, end) = match state {
        SimState::Running { progress } | SimState::Paused { progress } => (
            "Running",
            format!("{}%", (progress * 100.0).floor() as i64),
            None,
        ),
        SimState::Succeeded { end } => ("Completed", String::new(), Some(end)),
        SimState::Failed { end } => ("Failed", String::new(), Some(end)),
    };
    json!({
        "id": format!("{:032x}", task.id),
        "name": task.task_type,
        "instance_id": task.instance_id(),
        "instance_name": format!("name-{}", task.instance_id()),
        "status": status,
        "progress": progress,
        "fail_reason": match state {
            SimState::Failed { .. } => task.message.clone().unwrap_or_else(|| "Task failed".into()),
            _ => String::new(),
        },
        "created_at": write_zoned(task.start, 0),
        "ended_at": end.map(|t| write_zoned(t, 0)).unwrap_or_default(),
    })
}
