//! PostgreSQL `DescribeTasks` 2017-03-12: time filters, `Limit` 1-100, `Offset`, ordering by
//! start time, and the `TaskSet` shape of the reference page.

use chrono::Utc;
use serde_json::{Value, json};

use super::tencent::{Action, ApiFault, beijing_time, int_param, time_param};
use super::world::{SimState, SimTask};
use super::{Api, Route, Sample, Simulator};

/// `DescribeTasks` 2017-03-12 of `postgres`.
pub const ROUTE: Route = Route {
    kind: "tencent_postgres",
    api: Api::Tencent(Action {
        service: "postgres",
        action: "DescribeTasks",
        version: "2017-03-12",
        handler: describe_tasks,
    }),
    sample: Sample {
        regions: ["ap-guangzhou", "ap-shanghai"],
        task_types: &[
            "RestoreDatabase",
            "CreateInstance",
            "DestroyInstance",
            "ModifyDBInstanceSpec",
            "UpgradeDBInstanceKernelVersion",
            "CloneDBInstance",
        ],
        instance_prefix: "postgres-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};

pub fn describe_tasks(sim: &Simulator, region: &str, params: &Value) -> Result<Value, ApiFault> {
    let limit = int_param(params, "Limit", 20, 1..=100)? as usize;
    let offset = int_param(params, "Offset", 0, 0..=i64::MAX)? as usize;
    let now = Utc::now();
    let min_start =
        time_param(params, "MinStartTime")?.unwrap_or(now - chrono::Duration::days(180));
    let max_start = time_param(params, "MaxStartTime")?.unwrap_or(now);
    let descending = params.get("OrderByType").and_then(Value::as_str) != Some("asc");
    let instance = params.get("DBInstanceId").and_then(Value::as_str);

    let world = sim.world();
    let matching: Vec<(&SimTask, SimState)> = world
        .started(
            "tencent_postgres",
            region,
            min_start..=max_start,
            now,
            descending,
        )
        .into_iter()
        .filter(|(t, _)| instance.is_none_or(|id| t.instance_id() == id))
        .collect();
    let task_set: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(task, state)| render(task, *state))
        .collect();
    Ok(json!({ "TotalCount": matching.len(), "TaskSet": task_set }))
}

fn render(task: &SimTask, state: SimState) -> Value {
    let (status, progress, end) = match state {
        SimState::Running { progress } => ("Running", progress, String::new()),
        SimState::Paused { progress } => ("Pause", progress, String::new()),
        SimState::Succeeded { end } => ("Success", 1.0, beijing_time(end)),
        SimState::Failed { end } => ("Fail", 1.0, beijing_time(end)),
    };
    json!({
        "TaskId": task.id,
        "TaskType": task.task_type,
        "DBInstanceId": task.instance_id(),
        "StartTime": beijing_time(task.start),
        "EndTime": end,
        "Status": status,
        "Progress": (progress * 100.0).floor() as i64,
        "TaskDetail": {
            "CurrentStep": if end.is_empty() { "Running" } else { "Task Complete" },
            "AllSteps": "",
            "Input": "",
            "Output": "",
            "Message": task.message.clone().unwrap_or_default(),
        },
    })
}
