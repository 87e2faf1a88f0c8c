//! TencentDB for MySQL (CDB), `DescribeTasks` (2017-03-20).
//!
//! The API has answered in two documented shapes, and both are read:
//! - `Items[]` with string `TaskStatus` and `TaskType` (`FAILED`, `OPEN GTID`, ...) and the
//!   instances in `InstanceIds[]`;
//! - `Items[]` with integer `Status` and `Type` codes (the request's enumerations) and the
//!   instances in `Data[].InstanceId`.
//!
//! Both become the same `task_type` values: the string names in upper case with `_` for
//! spaces (`OPEN_GTID`), codes through [`TASK_TYPES`]. A task naming several instances is one
//! task per instance (same id), so each instance's series counts it; a task naming none is
//! counted under an empty `instance_id`.

use serde_json::{Value, json};

use super::tencent::{self, TencentApi};
use super::{Page, PageQuery, number, read_page, text};
use crate::task::{Task, TaskStatus, percent_to_ratio};

/// The integer `Type` codes and the `task_type` each becomes (code 4 is not documented).
pub const TASK_TYPES: &[(i64, &str)] = &[
    (1, "ROLLBACK"),
    (2, "SQL_OPERATION"),
    (3, "IMPORT_DATA"),
    (5, "MODIFY_PARAM"),
    (6, "INITIAL"),
    (7, "REBOOT"),
    (8, "OPEN_GTID"),
    (9, "UPGRADE_RO"),
    (10, "BATCH_ROLLBACK"),
    (11, "UPGRADE_MASTER"),
    (12, "DROP_TABLES"),
    (13, "SWITCH_DR_TO_MASTER"),
];

/// The provider: everything above the page format is Tencent's shared `impl`.
pub static PROVIDER: TencentApi = TencentApi {
    kind: "tencent_mysql",
    service: "cdb",
    action: "DescribeTasks",
    version: "2017-03-20",
    // Documented as 50/s in one revision and 100/s in another: the lower one.
    rate_limit: 50.0,
    page_size: 100,
    request_body,
    parse_page,
};

pub fn request_body(query: &PageQuery) -> Value {
    json!({
        "StartTimeBegin": tencent::format_time(query.window.start),
        "StartTimeEnd": tencent::format_time(query.window.end),
        "Limit": query.limit,
        "Offset": query.offset,
    })
}

pub fn parse_page(response: &Value) -> Result<Page, String> {
    read_page(
        ("TotalCount", &response["TotalCount"]),
        ("Items", &response["Items"]),
        normalise,
    )
}

/// The string `TaskStatus` of the first shape.
pub fn status_name(raw: &str) -> TaskStatus {
    match raw.trim().to_ascii_uppercase().as_str() {
        "INITIAL" | "WAITING" => TaskStatus::Pending,
        "RUNNING" => TaskStatus::Running,
        "PAUSED" => TaskStatus::Paused,
        "SUCCEED" | "SUCCESS" | "SUCCEEDED" => TaskStatus::Succeeded,
        "FAILED" => TaskStatus::Failed,
        "KILLED" | "REMOVED" => TaskStatus::Cancelled,
        _ => TaskStatus::Unknown,
    }
}

/// The integer `Status` of the second shape.
pub fn status_code(code: i64) -> TaskStatus {
    match code {
        0 => TaskStatus::Pending,
        1 => TaskStatus::Running,
        2 => TaskStatus::Succeeded,
        3 => TaskStatus::Failed,
        4 | 5 => TaskStatus::Cancelled,
        6 => TaskStatus::Paused,
        _ => TaskStatus::Unknown,
    }
}

/// `task_type` of a string name (`OPEN GTID` -> `OPEN_GTID`) or a code (`8` -> `OPEN_GTID`;
/// undocumented codes -> `TYPE_<code>`).
pub fn task_type_name(raw: &str) -> String {
    let raw = raw.trim();
    if let Ok(code) = raw.parse::<i64>() {
        return task_type_code(code);
    }
    raw.split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .to_ascii_uppercase()
}

pub fn task_type_code(code: i64) -> String {
    TASK_TYPES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| format!("TYPE_{code}"))
}

/// The status of either shape, and the raw value for a note when it is unknown.
fn status(entry: &Value) -> (TaskStatus, String) {
    if let Some(name) = entry["TaskStatus"].as_str() {
        return (status_name(name), format!("TaskStatus {name:?}"));
    }
    match number(&entry["Status"]) {
        Some(code) if code.fract() == 0.0 => (status_code(code as i64), format!("Status {code}")),
        _ => (TaskStatus::Unknown, format!("Status {}", entry["Status"])),
    }
}

/// The most instances one task may name: each becomes a task of its own, so an entry must
/// not be able to expand into more series than a page of tasks.
pub const MAX_INSTANCES_PER_TASK: usize = 1000;

/// The instances a task names, in order, without repeats or empty ids; an error beyond
/// [`MAX_INSTANCES_PER_TASK`].
fn instances(entry: &Value) -> Result<Vec<String>, String> {
    let listed = entry["InstanceIds"].as_array().into_iter().flatten();
    let in_data = entry["Data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| &d["InstanceId"]);
    let mut seen = std::collections::HashSet::new();
    let mut ids: Vec<String> = Vec::new();
    for id in listed.chain(in_data).filter_map(text) {
        if seen.insert(id.clone()) {
            if ids.len() == MAX_INSTANCES_PER_TASK {
                return Err(format!(
                    "names more than {MAX_INSTANCES_PER_TASK} instances"
                ));
            }
            ids.push(id);
        }
    }
    Ok(ids)
}

/// The longest task message kept: it is copied into the task of every instance the task
/// names, so its length must not multiply.
pub const MAX_MESSAGE_BYTES: usize = 256;

/// `Message`, with the error `Code` when it is not 0, cut at [`MAX_MESSAGE_BYTES`].
fn message(entry: &Value) -> Option<String> {
    let text = text(&entry["Message"]).map(|mut text| {
        if text.len() > MAX_MESSAGE_BYTES {
            let mut end = MAX_MESSAGE_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        text
    });
    let code = number(&entry["Code"]).filter(|c| *c != 0.0);
    match (text, code) {
        (Some(text), Some(code)) => Some(format!("{text} (code {code})")),
        (None, Some(code)) => Some(format!("code {code}")),
        (text, None) => text,
    }
}

/// One `Items` entry as one task per instance it names, with a note if its status was unknown.
pub fn normalise(entry: &Value) -> Result<(Vec<Task>, Option<String>), String> {
    let id = text(&entry["JobId"]).ok_or("no JobId")?;
    let start_time = entry["StartTime"]
        .as_str()
        .and_then(tencent::parse_time)
        .ok_or_else(|| format!("task {id} has no readable StartTime"))?;
    let (status, raw_status) = status(entry);
    let note =
        (status == TaskStatus::Unknown).then(|| format!("unknown {raw_status} counted as unknown"));
    let task_type = text(&entry["TaskType"])
        .or_else(|| text(&entry["Type"]))
        .map(|raw| task_type_name(&raw))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let mut instances = instances(entry).map_err(|e| format!("task {id} {e}"))?;
    if instances.is_empty() {
        instances.push(String::new());
    }
    let task = Task {
        id,
        task_type,
        instance_id: String::new(),
        instance_name: None,
        status,
        progress: number(&entry["Progress"]).and_then(percent_to_ratio),
        start_time,
        end_time: if status.is_finished() {
            entry["EndTime"].as_str().and_then(tencent::parse_time)
        } else {
            None
        },
        message: message(entry),
    };
    let tasks = instances
        .into_iter()
        .map(|instance_id| Task {
            instance_id,
            ..task.clone()
        })
        .collect();
    Ok((tasks, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Outcome;
    use crate::providers::testing::{self, answer, utc};

    fn fixture(name: &str) -> Page {
        testing::fixture(&PROVIDER, name)
    }

    #[test]
    fn seed001_string_shape() {
        let page = fixture("seed001_example1.json");
        assert_eq!(page.total, Some(5));
        assert_eq!(
            page.request_id.as_deref(),
            Some("9a4b22f5-0f93-4a72-ba05-1eb6cdf37a1e")
        );
        assert_eq!(page.skipped, 0);
        assert!(page.notes.is_empty(), "{:?}", page.notes);
        assert_eq!(
            page.tasks[0],
            Task {
                id: "79".into(),
                task_type: "OPEN_GTID".into(),
                instance_id: "cdb-qlfpnobr".into(),
                instance_name: None,
                status: TaskStatus::Failed,
                progress: Some(0.1),
                start_time: utc("2019-10-09T12:03:39Z"),
                end_time: Some(utc("2019-10-09T12:39:34Z")),
                message: Some(
                    "[Operate CDB Fail][Upgrade Service Fail!] reason: ERR#-999: lock_inst.cgi: \
                     no instance records exist for some instance IDs (code 9013)"
                        .into()
                ),
            }
        );
        let summary: Vec<_> = page
            .tasks
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    t.task_type.as_str(),
                    t.instance_id.as_str(),
                    t.status,
                    t.duration_seconds(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "79",
                    "OPEN_GTID",
                    "cdb-qlfpnobr",
                    TaskStatus::Failed,
                    Some(2155.0)
                ),
                (
                    "70",
                    "MODIFY_PARAM",
                    "cdb-6kd9h71i",
                    TaskStatus::Succeeded,
                    Some(23.0)
                ),
                (
                    "69",
                    "INITIAL",
                    "cdb-6kd9h71i",
                    TaskStatus::Succeeded,
                    Some(44.0)
                ),
                (
                    "68",
                    "UPGRADE_MASTER",
                    "cdb-6kd9h71i",
                    TaskStatus::Succeeded,
                    Some(79882.0)
                ),
                (
                    "66",
                    "MODIFY_PARAM",
                    "cdb-o02fxj9g",
                    TaskStatus::Failed,
                    Some(1.0)
                ),
            ]
        );
        assert_eq!(
            page.tasks[1].message.as_deref(),
            Some("Set parameters successfully")
        );
        assert_eq!(
            page.tasks[4].message.as_deref(),
            Some("Failed to set parameters (code -1)")
        );
    }

    #[test]
    fn seed002_code_shape() {
        let page = fixture("seed002_example1.json");
        assert_eq!(page.total, Some(13));
        assert_eq!(
            page.request_id.as_deref(),
            Some("6EF60BEC-0242-43AF-BB20-270359FB54A7")
        );
        assert_eq!(page.skipped, 0);
        let summary: Vec<_> = page
            .tasks
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    t.task_type.as_str(),
                    t.instance_id.as_str(),
                    t.status,
                    t.progress,
                    t.duration_seconds(),
                )
            })
            .collect();
        use TaskStatus::{Failed, Succeeded};
        assert_eq!(
            summary,
            [
                (
                    "15964",
                    "INITIAL",
                    "cdb-gt70m8aa",
                    Succeeded,
                    Some(1.0),
                    Some(63.0)
                ),
                (
                    "51788",
                    "SQL_OPERATION",
                    "cdb-atjl8gns",
                    Failed,
                    Some(0.0),
                    Some(1.0)
                ),
                (
                    "15967",
                    "UPGRADE_MASTER",
                    "cdb-gt70m8aa",
                    Succeeded,
                    Some(1.0),
                    Some(185.0)
                ),
                (
                    "15969",
                    "MODIFY_PARAM",
                    "",
                    Succeeded,
                    Some(1.0),
                    Some(45.0)
                ),
                ("15970", "IMPORT_DATA", "", Failed, Some(0.05), Some(31.0)),
                ("15971", "IMPORT_DATA", "", Failed, Some(0.05), Some(31.0)),
                ("15972", "IMPORT_DATA", "", Succeeded, Some(1.0), Some(31.0)),
                (
                    "15974",
                    "UPGRADE_MASTER",
                    "cdb-o8cacfkg",
                    Succeeded,
                    Some(1.0),
                    Some(246.0)
                ),
                (
                    "15976",
                    "INITIAL",
                    "cdb-7262qp3q",
                    Succeeded,
                    Some(1.0),
                    Some(63.0)
                ),
                (
                    "51695",
                    "BATCH_ROLLBACK",
                    "cdb-ewgjla5w",
                    Succeeded,
                    Some(1.0),
                    Some(124.0)
                ),
            ]
        );
        assert_eq!(page.tasks[1].message.as_deref(), Some("code -5003"));
        assert_eq!(page.tasks[0].start_time, utc("2017-06-27T07:05:33Z"));
    }

    #[test]
    fn both_shapes_give_the_same_task_types() {
        let pairs = [
            ("ROLLBACK", 1),
            ("SQL OPERATION", 2),
            ("IMPORT DATA", 3),
            ("MODIFY PARAM", 5),
            ("INITIAL", 6),
            ("REBOOT", 7),
            ("OPEN GTID", 8),
            ("UPGRADE RO", 9),
            ("BATCH ROLLBACK", 10),
            ("UPGRADE MASTER", 11),
            ("DROP TABLES", 12),
            ("SWITCH DR TO MASTER", 13),
        ];
        for (name, code) in pairs {
            assert_eq!(task_type_name(name), task_type_code(code), "{name}");
        }
        assert_eq!(task_type_code(4), "TYPE_4");
        assert_eq!(task_type_name("7"), "REBOOT");
        assert_eq!(task_type_name("new thing"), "NEW_THING");
    }

    #[test]
    fn both_shapes_give_the_same_statuses() {
        for (name, code) in [
            ("UNDEFINED", -1),
            ("INITIAL", 0),
            ("RUNNING", 1),
            ("SUCCEED", 2),
            ("FAILED", 3),
            ("KILLED", 4),
            ("REMOVED", 5),
            ("PAUSED", 6),
        ] {
            assert_eq!(status_name(name), status_code(code), "{name}");
        }
        assert_eq!(status_name("SUCCESS"), TaskStatus::Succeeded);
        assert_eq!(status_name("WAITING"), TaskStatus::Pending);
        assert_eq!(status_name("UNDEFINED"), TaskStatus::Unknown);
        assert_eq!(status_code(9), TaskStatus::Unknown);
    }

    #[test]
    fn a_task_of_several_instances_counts_for_each() {
        let entry = json!({
            "JobId": 5, "StartTime": "2024-01-01 08:00:00", "TaskStatus": "RUNNING",
            "TaskType": "BATCH ROLLBACK", "Progress": "30",
            "InstanceIds": ["cdb-a", "cdb-b"],
            "Data": [{"InstanceId": "cdb-b"}, {"InstanceId": "cdb-c"}, {"InstanceId": ""}],
        });
        let (tasks, note) = normalise(&entry).unwrap();
        assert_eq!(note, None);
        let instances: Vec<_> = tasks.iter().map(|t| t.instance_id.as_str()).collect();
        assert_eq!(instances, ["cdb-a", "cdb-b", "cdb-c"]);
        assert!(tasks.iter().all(|t| t.id == "5" && t.progress == Some(0.3)));
        assert!(tasks.iter().all(|t| t.end_time.is_none()));
    }

    #[test]
    fn a_task_naming_too_many_instances_is_skipped_quickly() {
        // 60,000 ids, half of them repeats: de-duplication must be linear.
        let ids: Vec<String> = (0..60_000).map(|n| format!("cdb-{}", n % 30_000)).collect();
        let entry = json!({
            "JobId": 6, "StartTime": "2024-01-01 08:00:00", "TaskStatus": "RUNNING",
            "TaskType": "BATCH ROLLBACK", "InstanceIds": ids,
        });
        let started = std::time::Instant::now();
        let error = normalise(&entry).unwrap_err();
        assert_eq!(error, "task 6 names more than 1000 instances");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let just_enough: Vec<String> = (0..1000).map(|n| format!("cdb-{n}")).collect();
        let entry = json!({
            "JobId": 7, "StartTime": "2024-01-01 08:00:00", "TaskStatus": "RUNNING",
            "InstanceIds": just_enough, "Data": [{"InstanceId": "cdb-0"}],
        });
        assert_eq!(normalise(&entry).unwrap().0.len(), 1000);
    }

    #[test]
    fn odd_entries_are_skipped_or_noted_never_fatal() {
        let response = json!({
            "TotalCount": 4,
            "Items": [
                {"JobId": "1", "StartTime": "2024-01-01 08:00:00", "TaskStatus": "EXPLODED", "TaskType": null, "Progress": null, "InstanceIds": null},
                {"JobId": 2, "StartTime": "2024-01-01 08:00:00", "Status": "1", "Type": "5", "Progress": "50%", "Data": "nope"},
                {"JobId": 3, "StartTime": "", "Status": 1},
                {"StartTime": "2024-01-01 08:00:00"},
                "not an object",
            ],
        });
        let page = parse_page(&response).unwrap();
        assert_eq!(page.skipped, 3);
        assert_eq!(page.tasks.len(), 2);
        assert_eq!(page.tasks[0].status, TaskStatus::Unknown);
        assert_eq!(page.tasks[0].task_type, "unknown");
        assert_eq!(page.tasks[0].progress, None);
        assert_eq!(page.tasks[1].status, TaskStatus::Running);
        assert_eq!(page.tasks[1].task_type, "MODIFY_PARAM");
        assert_eq!(page.tasks[1].progress, Some(0.5));
        assert_eq!(page.notes.len(), 4, "{:?}", page.notes);
    }

    #[test]
    fn a_page_that_is_not_a_page_is_a_bad_response() {
        for body in [
            &br#"{"Response":{"RequestId":"r-1","Items":[]}}"#[..],
            br#"{"Response":{"RequestId":"r-1","TotalCount":1,"Items":{}}}"#,
            br#"{"Response":{"RequestId":"r-1","TotalCount":-4,"Items":[]}}"#,
        ] {
            let err = answer(&PROVIDER, 200, body).unwrap_err();
            assert_eq!(err.outcome(), Outcome::BadResponse);
            assert_eq!(err.request_id(), Some("r-1"));
        }
    }
}
