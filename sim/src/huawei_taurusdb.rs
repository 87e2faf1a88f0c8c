//! GaussDB for MySQL (TaurusDB) `GET /v3/{project_id}/immediate-jobs`: `offset` is the page
//! number from 1 (the default), `limit` one of 10, 20 and 50 (default 10), `start_time` and
//! `end_time` as `yyyy-mm-ddThh:mm:ssZ` with a numeric offset, each optional. Jobs are flat,
//! with `process` a percent while running and `""` after, times at `+0800`, and the answer
//! lists the job names one may filter by in `action_names`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::huawei::{ApiFault, Resource, int, write_zoned, zoned};
use super::huawei_gaussdb::uuid;
use super::world::{SimState, SimTask};
use super::{Api, Route, Sample, Simulator, query_param};

/// `GET /v3/{project_id}/immediate-jobs`.
pub const ROUTE: Route = Route {
    kind: "huawei_taurusdb",
    api: Api::Huawei(Resource {
        version: "v3",
        resource: "immediate-jobs",
        handler: list_jobs,
    }),
    sample: Sample {
        regions: ["cn-north-4", "ap-southeast-1"],
        task_types: &[
            "CreateGaussDBforMySQLInstance",
            "RestoreGaussDBforMySQLNewInstance",
            "AddGaussDBforMySQLNodes",
            "ResizeGaussDBforMySQLFlavor",
            "RebootGaussDBforMySQLInstance",
            "UpgradeGaussDBforMySQLDatabaseVersion",
        ],
        instance_prefix: "taurus-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};

fn list_jobs(sim: &Simulator, region: &str, query: &[(String, String)]) -> Result<Value, ApiFault> {
    let page = int(query, "offset", 1, 1..=usize::MAX)
        .map_err(|_| ApiFault::new(400, "DBS.280440", "Invalid offset."))?;
    let limit = match query_param(query, "limit").unwrap_or("10") {
        "10" => 10,
        "20" => 20,
        "50" => 50,
        _ => return Err(ApiFault::new(400, "DBS.280439", "Invalid limit.")),
    };
    let now = Utc::now();
    let start = zoned(query, "start_time", "DBS.280067")?.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let end = zoned(query, "end_time", "DBS.280068")?.unwrap_or(now);
    let world = sim.world();
    let matching = world.started(ROUTE.kind, region, start..=end, now, true);
    let mut action_names: Vec<&str> = matching.iter().map(|(t, _)| t.task_type.as_str()).collect();
    action_names.sort_unstable();
    action_names.dedup();
    let jobs: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|(task, state)| render(task, *state))
        .collect();
    Ok(json!({ "jobs": jobs, "total_count": matching.len(), "action_names": action_names }))
}

fn render(task: &SimTask, state: SimState) -> Value {
    let (status, process, end) = match state {
        SimState::Running { progress } | SimState::Paused { progress } => (
            "Running",
            format!("{}%", (progress * 100.0).floor() as i64),
            None,
        ),
        SimState::Succeeded { end } => ("Completed", String::new(), Some(end)),
        SimState::Failed { end } => ("Failed", String::new(), Some(end)),
    };
    json!({
        "instance_id": task.instance_id(),
        "instance_name": format!("name-{}", task.instance_id()),
        "instance_status": "normal",
        "job_id": uuid(task.id),
        "order_id": "",
        "job_name": task.task_type,
        "status": status,
        "process": process,
        "created_time": write_zoned(task.start, 8),
        "ended_time": end.map(|t| write_zoned(t, 8)).unwrap_or_default(),
        "fail_reason": match state {
            SimState::Failed { .. } => task.message.clone().unwrap_or_else(|| "Task failed".into()),
            _ => String::new(),
        },
        "show_detail": true,
        "extend_fields": null,
    })
}
