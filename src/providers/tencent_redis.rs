//! TencentDB for Redis, `DescribeTaskList` (2018-04-12).
//!
//! `Tasks[]` of `TaskId, StartTime, TaskType, InstanceName, InstanceId, ProjectId, Progress,
//! EndTime, Result`. `TaskType` is a code such as `"037"`, which becomes the `FLOW_*` name the
//! SDK documents for it ([`TASK_TYPES`]); `FLOW_*` names and unknown codes are kept as they
//! come. `Progress` is a float the SDK leaves without a unit; the reference example shows `1`
//! for a completed task, so it is read as a 0..1 fraction, and a value above 1 as a percent.

use serde_json::{Value, json};

use super::tencent::{self, TencentApi};
use super::{Page, PageQuery, number, read_page, text};
use crate::task::{Task, TaskStatus, percent_to_ratio};

/// `TaskType` codes and their names, from the `TaskInfoDetail` model of
/// tencentcloud-sdk-python-redis 3.1.189.
pub const TASK_TYPES: &[(&str, &str)] = &[
    ("001", "FLOW_CREATE"),
    ("002", "FLOW_RESIZE"),
    ("003", "FLOW_CLOSE"),
    ("004", "FLOW_CLEAN"),
    ("005", "FLOW_STARTUP"),
    ("006", "FLOW_DELETE"),
    ("007", "FLOW_SETPWD"),
    ("009", "FLOW_EXPORTBACKUP"),
    ("010", "FLOW_RESTOREBACKUP"),
    ("012", "FLOW_BACKUPINSTANCE"),
    ("013", "FLOW_MIGRATEINSTANCE"),
    ("014", "FLOW_DELBACKUP"),
    ("016", "FLOW_EXCHANGEINSTANCE"),
    ("017", "FLOW_AUTOBACKUP"),
    ("022", "FLOW_MIGRATECHECK"),
    ("023", "FLOW_MIGRATETASK"),
    ("025", "FLOW_CLEANDB"),
    ("026", "FLOW_CLONEBACKUP"),
    ("027", "FLOW_CHANGEVIP"),
    ("028", "FLOW_EXPORSHR"),
    ("029", "FLOW_ADDNODES"),
    ("031", "FLOW_CHANGENET"),
    ("033", "FLOW_MODIFYINSTACEREADONLY"),
    ("034", "FLOW_MODIFYINSTANCEPARAMS"),
    ("035", "FLOW_MODIFYINSTANCEPASSWORDFREE"),
    ("036", "FLOW_SWITCHINSTANCEVIP"),
    ("037", "FLOW_MODIFYINSTANCEACCOUNT"),
    ("038", "FLOW_MODIFYINSTANCEBANDWIDTH"),
    ("039", "FLOW_ENABLEINSTANCE_REPLICATE"),
    ("040", "FLOW_DISABLEINSTANCE_REPLICATE"),
    ("041", "FLOW_UpgradeArch"),
    ("042", "FLOW_DowngradeArch"),
    ("043", "FLOW_UpgradeVersion"),
    ("044", "FLOW_MODIFYCONNECTIONCONFIG"),
    ("045", "FLOW_CLEARNETWORK"),
    ("046", "FLOW_REMOVE_BACKUP_FILE"),
    ("047", "FLOW_UPGRADE_SUPPORT_MULTI_AZ"),
    ("048", "FLOW_SHUTDOWN_MASTER"),
    ("049", "FLOW_CHANGE_REPLICA_TO_MASTER"),
    ("050", "FLOW_CODE_ADD_REPLICATION_INSTANCE"),
    ("052", "FLOW_OPEN_WAN"),
    ("053", "FLOW_CLOSE_WAN"),
    ("055", "FLOW_CODE_DELETE_REPLICATION_INSTANCE"),
    ("056", "FLOW_CODE_CHANGE_MASTER_INSTANCE"),
    ("057", "FLOW_CODE_CHANGE_INSTANCE_ROLE"),
    ("058", "FLOW_MIGRATE_NODE"),
    ("059", "FLOW_SWITCH_NODE"),
    ("060", "FLOW_UPGRADE_SMALL_VERSION"),
    ("061", "FLOW_UPGRADE_PROXY_VERSION"),
    ("062", "FLOW_MODIFY_INSTANCE_NETWORK"),
    ("063", "FLOW_MIGRATE_PROXY_NODE"),
    ("066", "FLOW_MIGRATION_INSTANCE_ZONE"),
    ("067", "FLOW_UPGRADE_INSTANCE_CACHE_AND_PROXY"),
    ("069", "FLOW_MODIFY_PROXY_NUM"),
    ("070", "FLOW_MODIFYBACKUPMOD"),
];

/// The provider: everything above the page format is Tencent's shared `impl`.
pub static PROVIDER: TencentApi = TencentApi {
    kind: "tencent_redis",
    service: "redis",
    action: "DescribeTaskList",
    version: "2018-04-12",
    rate_limit: 100.0,
    // `Offset` must also be a multiple of `Limit`, which paging by full pages keeps.
    page_size: 100,
    request_body,
    parse_page,
};

pub fn request_body(query: &PageQuery) -> Value {
    json!({
        "BeginTime": tencent::format_time(query.window.start),
        "EndTime": tencent::format_time(query.window.end),
        "Limit": query.limit,
        "Offset": query.offset,
    })
}

pub fn parse_page(response: &Value) -> Result<Page, String> {
    read_page(
        ("TotalCount", &response["TotalCount"]),
        ("Tasks", &response["Tasks"]),
        |entry| normalise(entry).map(|(task, note)| ([task], note)),
    )
}

/// `Result`: 0 initialised, 1 executing, 2 completed, 4 failed.
pub fn status(result: i64) -> TaskStatus {
    match result {
        0 => TaskStatus::Pending,
        1 => TaskStatus::Running,
        2 => TaskStatus::Succeeded,
        4 => TaskStatus::Failed,
        _ => TaskStatus::Unknown,
    }
}

/// The `FLOW_*` name of a code (zero-padded to three digits if it came as a number); names
/// and unknown codes as they are.
pub fn task_type(raw: &str) -> String {
    let raw = raw.trim();
    let code = match raw.parse::<u32>() {
        Ok(n) => format!("{n:03}"),
        Err(_) => raw.to_owned(),
    };
    TASK_TYPES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| raw.to_owned())
}

/// A fraction in 0..1 as it is; above 1, a percent.
pub fn progress(raw: f64) -> Option<f64> {
    if raw > 1.0 {
        percent_to_ratio(raw)
    } else {
        raw.is_finite().then(|| raw.max(0.0))
    }
}

pub fn normalise(entry: &Value) -> Result<(Task, Option<String>), String> {
    let id = text(&entry["TaskId"]).ok_or("no TaskId")?;
    let start_time = entry["StartTime"]
        .as_str()
        .and_then(tencent::parse_time)
        .ok_or_else(|| format!("task {id} has no readable StartTime"))?;
    let (status, note) = match number(&entry["Result"]) {
        Some(code) if code.fract() == 0.0 => {
            let status = status(code as i64);
            let note = (status == TaskStatus::Unknown)
                .then(|| format!("unknown Result {code} counted as unknown"));
            (status, note)
        }
        _ => (
            TaskStatus::Unknown,
            Some(format!(
                "unreadable Result {} counted as unknown",
                entry["Result"]
            )),
        ),
    };
    let task = Task {
        task_type: text(&entry["TaskType"])
            .map(|raw| task_type(&raw))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "unknown".into()),
        instance_id: text(&entry["InstanceId"]).unwrap_or_default(),
        instance_name: text(&entry["InstanceName"]),
        status,
        progress: number(&entry["Progress"]).and_then(progress),
        start_time,
        end_time: if status.is_finished() {
            entry["EndTime"].as_str().and_then(tencent::parse_time)
        } else {
            None
        },
        message: None,
        id,
    };
    Ok((task, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Outcome;
    use crate::providers::testing::{self, answer, utc};

    #[test]
    fn seed004_example() {
        let page = testing::fixture(&PROVIDER, "seed004_example1.json");
        assert_eq!(page.total, Some(2));
        assert_eq!(
            page.request_id.as_deref(),
            Some("19a7fb07-8e21-4827-88dd-fee57f38e8cd")
        );
        let task = |id: &str, start: &str, end: &str| Task {
            id: id.into(),
            task_type: "FLOW_MODIFYINSTANCEACCOUNT".into(),
            instance_id: "crs-opcazbrb".into(),
            instance_name: Some("multidbccbugfix11153".into()),
            status: TaskStatus::Succeeded,
            progress: Some(1.0),
            start_time: utc(start),
            end_time: Some(utc(end)),
            message: None,
        };
        assert_eq!(
            page.tasks,
            [
                task("42372", "2019-11-15T06:25:37Z", "2019-11-15T06:25:46Z"),
                task("42371", "2019-11-15T06:25:16Z", "2019-11-15T06:25:25Z"),
            ]
        );
        assert!(page.notes.is_empty());
    }

    #[test]
    fn results_and_task_types() {
        assert_eq!(status(0), TaskStatus::Pending);
        assert_eq!(status(1), TaskStatus::Running);
        assert_eq!(status(2), TaskStatus::Succeeded);
        assert_eq!(status(4), TaskStatus::Failed);
        assert_eq!(status(3), TaskStatus::Unknown);
        assert_eq!(task_type("012"), "FLOW_BACKUPINSTANCE");
        assert_eq!(task_type("FLOW_BACKUPINSTANCE"), "FLOW_BACKUPINSTANCE");
        assert_eq!(task_type("099"), "099");
        assert_eq!(task_type("12"), "FLOW_BACKUPINSTANCE");
    }

    #[test]
    fn progress_is_a_fraction_or_else_a_percent() {
        assert_eq!(progress(0.25), Some(0.25));
        assert_eq!(progress(1.0), Some(1.0));
        assert_eq!(progress(40.0), Some(0.4));
        assert_eq!(progress(-1.0), Some(0.0));
        assert_eq!(progress(f64::NAN), None);
    }

    #[test]
    fn odd_entries_are_skipped_or_noted_never_fatal() {
        let response = json!({
            "TotalCount": "3",
            "Tasks": [
                {"TaskId": 1, "StartTime": "2024-01-01 08:00:00", "Result": "1", "Progress": "0.5", "TaskType": 12, "InstanceName": ""},
                {"TaskId": 2, "StartTime": "2024-01-01 08:00:00", "Result": null, "EndTime": ""},
                {"TaskId": 3, "StartTime": null},
                [],
            ],
        });
        let page = parse_page(&response).unwrap();
        assert_eq!(page.skipped, 2);
        assert_eq!(page.tasks.len(), 2);
        assert_eq!(page.tasks[0].status, TaskStatus::Running);
        assert_eq!(page.tasks[0].progress, Some(0.5));
        // A number instead of the zero-padded code string.
        assert_eq!(page.tasks[0].task_type, "FLOW_BACKUPINSTANCE");
        assert_eq!(page.tasks[0].instance_name, None);
        assert_eq!(page.tasks[1].status, TaskStatus::Unknown);
        assert_eq!(page.tasks[1].end_time, None);
        assert_eq!(page.notes.len(), 3, "{:?}", page.notes);
    }

    #[test]
    fn a_page_that_is_not_a_page_is_a_bad_response() {
        let err = answer(
            &PROVIDER,
            200,
            br#"{"Response":{"RequestId":"r-2","TotalCount":1,"Tasks":"x"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.outcome(), Outcome::BadResponse);
        assert_eq!(err.request_id(), Some("r-2"));
    }
}
