//! TDSQL-C (CynosDB) `DescribeTasks` 2019-01-07: `StartTimeBegin`/`StartTimeEnd`, `Limit`,
//! `Offset`, newest first, and `TaskList[]` in the shape of the `BizTaskInfo` model and the
//! tccli example. The SDK documents one `Status` value, `success`; for tasks that have not
//! succeeded the simulator writes `running`, `pause` and `failed`, which are its own choice
//! (the exporter counts anything but `success` as `unknown`). The SDK documents no limit for
//! `Limit`; the simulator takes up to 1000.

use chrono::Utc;
use serde_json::{Value, json};

use super::tencent::{Action, ApiFault, beijing_time, int_param, time_param};
use super::world::{SimState, SimTask};
use super::{Api, Route, Sample, Simulator};

/// `DescribeTasks` 2019-01-07 of `cynosdb`.
pub const ROUTE: Route = Route {
    kind: "tencent_cynosdb",
    api: Api::Tencent(Action {
        service: "cynosdb",
        action: "DescribeTasks",
        version: "2019-01-07",
        handler: describe_tasks,
    }),
    sample: Sample {
        regions: ["ap-guangzhou", "ap-nanjing"],
        // The one documented `TaskType` value, and others of the same form.
        task_types: &[
            "taskCreateCluster",
            "taskModifyInstance",
            "taskRollback",
            "taskManualBackup",
            "taskModifyDbVersion",
        ],
        instance_prefix: "cynosdbmysql-demo",
        multi_instance_one_in: 0,
        second_region: None,
    },
};

pub fn describe_tasks(sim: &Simulator, region: &str, params: &Value) -> Result<Value, ApiFault> {
    let limit = int_param(params, "Limit", 20, 1..=1000)? as usize;
    let offset = int_param(params, "Offset", 0, 0..=i64::MAX)? as usize;
    let now = Utc::now();
    let begin = time_param(params, "StartTimeBegin")?.unwrap_or(now - chrono::Duration::days(90));
    let end = time_param(params, "StartTimeEnd")?.unwrap_or(now);
    let world = sim.world();
    let matching = world.started("tencent_cynosdb", region, begin..=end, now, true);
    let tasks: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(task, state)| render(task, *state, region))
        .collect();
    Ok(json!({ "TotalCount": matching.len(), "TaskList": tasks }))
}

fn render(task: &SimTask, state: SimState, region: &str) -> Value {
    let (status, progress, end) = match state {
        SimState::Running { progress } => ("running", progress, None),
        SimState::Paused { progress } => ("pause", progress, None),
        SimState::Succeeded { end } => ("success", 1.0, Some(end)),
        SimState::Failed { end } => ("failed", task.stuck_progress, Some(end)),
    };
    let instance = task.instance_id();
    json!({
        "ID": task.id,
        "AppId": 1_250_000_000,
        "ClusterId": format!("{instance}-cluster"),
        "ClusterName": format!("cluster of {instance}"),
        "InstanceId": instance,
        "InstanceName": format!("name-{instance}"),
        "Region": region,
        "CreateTime": beijing_time(task.start),
        "StartTime": beijing_time(task.start),
        "EndTime": end.map(beijing_time).unwrap_or_default(),
        "UpdateTime": beijing_time(end.unwrap_or(task.start)),
        "Status": status,
        "TaskType": task.task_type,
        "ObjectType": task.task_type,
        "Process": (progress * 100.0).floor() as i64,
        "ErrMsg": match state {
            SimState::Failed { .. } => task.message.clone().unwrap_or_else(|| "task failed".into()),
            _ => String::new(),
        },
        "Input": "{}",
        "Output": "{}",
        "TaskMaintainInfo": { "MaintainStartTime": 10800, "MaintainDuration": 3600, "MaintainWeekDays": ["Mon"] },
    })
}
