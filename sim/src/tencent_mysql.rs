//! CDB `DescribeTasks` 2017-03-20: `StartTimeBegin`/`StartTimeEnd`, `Limit` 1-100, `Offset`,
//! newest first, in either of the two documented response shapes, chosen per region.

use chrono::Utc;
use serde_json::{Value, json};

use super::tencent::{Action, ApiFault, beijing_time, int_param, time_param};
use super::world::{SimState, SimTask};
use super::{Api, Route, Sample, Simulator};

/// `DescribeTasks` 2017-03-20 of `cdb`.
pub const ROUTE: Route = Route {
    kind: "tencent_mysql",
    api: Api::Tencent(Action {
        service: "cdb",
        action: "DescribeTasks",
        version: "2017-03-20",
        handler: describe_tasks,
    }),
    sample: Sample {
        regions: ["ap-guangzhou", "ap-shanghai"],
        task_types: &[
            "ROLLBACK",
            "IMPORT DATA",
            "MODIFY PARAM",
            "REBOOT",
            "UPGRADE MASTER",
            "BATCH ROLLBACK",
        ],
        instance_prefix: "cdb-demo",
        multi_instance_one_in: 10,
        second_region: Some(|sim, region| sim.set_cdb_shape(region, CdbShape::Codes)),
    },
};

/// Which of the two documented `Items[]` shapes a region answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CdbShape {
    /// String `TaskStatus`/`TaskType`, instances in `InstanceIds[]` (seed 001).
    #[default]
    Names,
    /// Integer `Status`/`Type`, instances in `Data[].InstanceId` (seed 002).
    Codes,
}

pub fn describe_tasks(sim: &Simulator, region: &str, params: &Value) -> Result<Value, ApiFault> {
    let limit = int_param(params, "Limit", 20, 1..=100)? as usize;
    let offset = int_param(params, "Offset", 0, 0..=i64::MAX)? as usize;
    let now = Utc::now();
    let begin = time_param(params, "StartTimeBegin")?.unwrap_or(now - chrono::Duration::days(90));
    let end = time_param(params, "StartTimeEnd")?.unwrap_or(now);
    let shape = sim.cdb_shape(region);
    let world = sim.world();
    let matching = world.started("tencent_mysql", region, begin..=end, now, true);
    let items: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(task, state)| render(task, *state, shape))
        .collect();
    Ok(json!({ "TotalCount": matching.len(), "Items": items }))
}

fn render(task: &SimTask, state: SimState, shape: CdbShape) -> Value {
    let (name, code, progress, end) = match state {
        SimState::Running { progress } => ("RUNNING", 1, progress, None),
        SimState::Paused { progress } => ("PAUSED", 6, progress, None),
        SimState::Succeeded { end } => ("SUCCEED", 2, 1.0, Some(end)),
        // A failed task stopped partway.
        SimState::Failed { end } => ("FAILED", 3, task.stuck_progress, Some(end)),
    };
    let (error_code, message) = match state {
        SimState::Failed { .. } => (
            -1,
            task.message.clone().unwrap_or_else(|| "Task failed".into()),
        ),
        SimState::Succeeded { .. } => (0, "Task succeeded".into()),
        _ => (0, String::new()),
    };
    let progress = (progress * 100.0).floor() as i64;
    match shape {
        CdbShape::Names => json!({
            "Code": error_code,
            "Message": message,
            "JobId": task.id,
            "AsyncRequestId": format!("{:08x}-{:08x}", task.id, task.id.wrapping_mul(2654435761)),
            "Progress": progress,
            "StartTime": beijing_time(task.start),
            // What CDB writes for a task that has not ended.
            "EndTime": end.map_or_else(|| "0000-00-00 00:00:00".to_owned(), beijing_time),
            "InstanceIds": task.instance_ids,
            "TaskType": task.task_type,
            "TaskStatus": name,
        }),
        CdbShape::Codes => json!({
            "Code": error_code,
            "Data": task.instance_ids.iter().map(|id| json!({ "InstanceId": id })).collect::<Vec<_>>(),
            "EndTime": end.map(beijing_time).unwrap_or_default(),
            "JobId": task.id,
            "Message": message,
            "Progress": progress,
            "StartTime": beijing_time(task.start),
            "Status": code,
            "Type": type_code(&task.task_type),
        }),
    }
}

/// The integer `Type` of a CDB task type name (`MODIFY PARAM` -> 5), from the request's
/// `TaskTypes.N` enumeration in the API reference (seed 002); 0 for a name it does not list.
fn type_code(name: &str) -> i64 {
    match name {
        "ROLLBACK" => 1,
        "SQL OPERATION" => 2,
        "IMPORT DATA" => 3,
        "MODIFY PARAM" => 5,
        "INITIAL" => 6,
        "REBOOT" => 7,
        "OPEN GTID" => 8,
        "UPGRADE RO" => 9,
        "BATCH ROLLBACK" => 10,
        "UPGRADE MASTER" => 11,
        "DROP TABLES" => 12,
        "SWITCH DR TO MASTER" => 13,
        _ => 0,
    }
}
