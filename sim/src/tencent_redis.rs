//! Redis `DescribeTaskList` 2018-04-12: `BeginTime`/`EndTime`, `Limit` 1-100 with `Offset` a
//! multiple of it, newest first, `Result` codes and a 0..1 `Progress`.

use chrono::Utc;
use serde_json::{Value, json};

use super::tencent::{Action, ApiFault, beijing_time, int_param, time_param};
use super::world::{SimState, SimTask};
use super::{Api, Route, Sample, Simulator};

/// `DescribeTaskList` 2018-04-12 of `redis`.
pub const ROUTE: Route = Route {
    kind: "tencent_redis",
    api: Api::Tencent(Action {
        service: "redis",
        action: "DescribeTaskList",
        version: "2018-04-12",
        handler: describe_task_list,
    }),
    sample: Sample {
        regions: ["ap-guangzhou", "ap-beijing"],
        task_types: &["012", "017", "010", "028", "034", "043"],
        instance_prefix: "crs-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};

pub fn describe_task_list(
    sim: &Simulator,
    region: &str,
    params: &Value,
) -> Result<Value, ApiFault> {
    let limit = int_param(params, "Limit", 20, 1..=100)?;
    let offset = int_param(params, "Offset", 0, 0..=i64::MAX)?;
    if offset % limit != 0 {
        return Err(ApiFault::new(
            "InvalidParameterValue",
            format!("Offset={offset} must be a multiple of Limit={limit}."),
        ));
    }
    let now = Utc::now();
    let begin = time_param(params, "BeginTime")?.unwrap_or(now - chrono::Duration::days(30));
    let end = time_param(params, "EndTime")?.unwrap_or(now);
    let world = sim.world();
    let matching = world.started("tencent_redis", region, begin..=end, now, true);
    let tasks: Vec<Value> = matching
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(task, state)| render(task, *state))
        .collect();
    Ok(json!({ "TotalCount": matching.len(), "Tasks": tasks }))
}

fn render(task: &SimTask, state: SimState) -> Value {
    let (result, progress, end) = match state {
        SimState::Running { progress } => (1, progress, String::new()),
        // Redis has no paused state: a task that waits is still "initialised".
        SimState::Paused { progress } => (0, progress, String::new()),
        SimState::Succeeded { end } => (2, 1.0, beijing_time(end)),
        SimState::Failed { end } => (4, task.stuck_progress, beijing_time(end)),
    };
    json!({
        "TaskId": task.id,
        "StartTime": beijing_time(task.start),
        "TaskType": task.task_type,
        "InstanceName": format!("name-{}", task.instance_id()),
        "InstanceId": task.instance_id(),
        "ProjectId": 0,
        "Progress": (progress * 100.0).floor() / 100.0,
        "EndTime": end,
        "Result": result,
    })
}
