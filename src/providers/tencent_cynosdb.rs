//! TDSQL-C (CynosDB), `DescribeTasks` (2019-01-07).
//!
//! Facts from tencentcloud-sdk-python-cynosdb 3.1.195 (`tencentcloud/cynosdb/v20190107/models.py`:
//! `DescribeTasksRequest`, `DescribeTasksResponse`, `BizTaskInfo`), the tccli example of
//! `DescribeTasks` (`tests/fixtures/tencent_cynosdb/README.md`) and the API reference
//! (cloud.tencent.com/document/api/1003/103866: 1000 requests a second):
//! - request: `StartTimeBegin`/`StartTimeEnd` (no format documented; the example writes
//!   `2021-06-23 20:31:57`, Beijing time as every Tencent API), `Limit`, `Offset` (no maximum or
//!   default documented: pages of 100 are asked for), `Filters`;
//! - answer: `TotalCount`, `TaskList[]` of `BizTaskInfo`: `ID` (an integer), `TaskType`,
//!   `ClusterId`, `ClusterName`, `InstanceId`, `InstanceName`, `Status`, `Process` (an integer,
//!   100 in the example of a finished task: a percent), `CreateTime`, `StartTime`, `EndTime`,
//!   `ErrMsg`. `Input` and `Output` are JSON texts that may hold passwords: never read.
//! - `Status`: the SDK documents no values ("任务状态"). The only one found is `success` (the
//!   SDK's `api.json` example, the tccli example, and Tencent's Terraform provider, which waits
//!   for it). Every other value is counted as `unknown` and logged once, so that the log shows
//!   the values the API really sends.
//!
//! A task of a whole cluster names no instance: its `instance_id` is the cluster's.

use serde_json::{Value, json};

use super::tencent::{self, TencentApi};
use super::{Page, PageQuery, clip, number, read_page, text};
use crate::task::{Task, TaskStatus, percent_to_ratio};

/// The provider: everything above the page format is Tencent's shared `impl`.
pub static PROVIDER: TencentApi = TencentApi {
    kind: "tencent_cynosdb",
    service: "cynosdb",
    action: "DescribeTasks",
    version: "2019-01-07",
    rate_limit: 1000.0,
    // No maximum is documented; 100 is what the other Tencent task APIs take.
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
        ("TaskList", &response["TaskList"]),
        |entry| normalise(entry).map(|(task, note)| ([task], note)),
    )
}

/// The one documented value; see the module's doc.
pub fn status(raw: &str) -> TaskStatus {
    match raw {
        "success" => TaskStatus::Succeeded,
        _ => TaskStatus::Unknown,
    }
}

/// The first non-empty text of `names`.
fn first_text(entry: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| text(&entry[*name]))
}

pub fn normalise(entry: &Value) -> Result<(Task, Option<String>), String> {
    let id = text(&entry["ID"]).ok_or("no ID")?;
    let start_time = ["StartTime", "CreateTime"]
        .iter()
        .find_map(|name| entry[*name].as_str().and_then(tencent::parse_time))
        .ok_or("a task has no readable StartTime or CreateTime")?;
    let raw_status = entry["Status"].as_str().unwrap_or_default();
    let status = status(raw_status);
    let note = (status == TaskStatus::Unknown).then(|| {
        format!(
            "undocumented Status {:?} counted as unknown",
            clip(raw_status)
        )
    });
    let task = Task {
        task_type: text(&entry["TaskType"]).unwrap_or_else(|| "unknown".into()),
        instance_id: first_text(entry, &["InstanceId", "ClusterId"]).unwrap_or_default(),
        instance_name: first_text(entry, &["InstanceName", "ClusterName"]),
        status,
        progress: number(&entry["Process"]).and_then(percent_to_ratio),
        start_time,
        end_time: if status.is_finished() {
            entry["EndTime"].as_str().and_then(tencent::parse_time)
        } else {
            None
        },
        message: text(&entry["ErrMsg"]),
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
    fn the_tccli_example_is_read() {
        let page = testing::fixture(&PROVIDER, "tccli_example1.json");
        // The example says 0 and lists one task; the total is what pages by.
        assert_eq!(page.total, Some(0));
        assert_eq!(
            page.request_id.as_deref(),
            Some("3d56fe0b-f839-42c6-b84e-1d5fbc874cba")
        );
        assert_eq!(page.skipped, 0);
        assert!(page.notes.is_empty(), "{:?}", page.notes);
        let [task] = page.tasks.as_slice() else {
            panic!("{:?}", page.tasks)
        };
        assert_eq!(task.id, "1");
        assert_eq!(task.task_type, "taskCreateCluster");
        assert_eq!(task.instance_id, "cynosdbmysql-qjuxpows");
        assert_eq!(task.instance_name.as_deref(), Some("MyInstanceName"));
        assert_eq!(task.status, TaskStatus::Succeeded);
        assert_eq!(task.progress, Some(1.0));
        // 2024-06-27 16:18:07 in Beijing time.
        assert_eq!(task.start_time, utc("2024-06-27T08:18:07Z"));
        assert_eq!(task.end_time, Some(utc("2024-06-27T08:18:12Z")));
        assert_eq!(task.message, None);
    }

    #[test]
    fn undocumented_statuses_are_unknown_and_cluster_tasks_name_the_cluster() {
        let body = br#"{"Response": {"RequestId": "r-1", "TotalCount": 2, "TaskList": [
            {"ID": 7, "TaskType": "taskUpgrade", "ClusterId": "cynosdbmysql-c1", "ClusterName": "c",
             "Status": "running", "Process": 40, "CreateTime": "2024-06-27 16:00:00",
             "StartTime": "", "ErrMsg": ""},
            {"ID": 8, "TaskType": "taskBackup", "InstanceId": "cynosdbmysql-ins-1",
             "Status": "success", "Process": 100, "StartTime": "2024-06-27T16:18:07+08:00",
             "EndTime": "2024-06-27T16:30:00+08:00", "ErrMsg": ""}
        ]}}"#;
        let page = answer(&PROVIDER, 200, body).unwrap();
        assert_eq!(page.tasks.len(), 2);
        let running = &page.tasks[0];
        assert_eq!(running.status, TaskStatus::Unknown);
        assert_eq!(running.instance_id, "cynosdbmysql-c1");
        assert_eq!(running.instance_name.as_deref(), Some("c"));
        // No start time yet: the creation time stands in.
        assert_eq!(running.start_time, utc("2024-06-27T08:00:00Z"));
        assert_eq!(running.progress, Some(0.4));
        assert_eq!(
            page.notes,
            ["undocumented Status \"running\" counted as unknown"]
        );
        assert_eq!(page.tasks[1].end_time, Some(utc("2024-06-27T08:30:00Z")));
    }

    #[test]
    fn a_page_without_a_task_list_total_is_a_bad_response() {
        let err = answer(
            &PROVIDER,
            200,
            br#"{"Response":{"RequestId":"r-9","TaskList":[]}}"#,
        )
        .unwrap_err();
        assert_eq!(err.outcome(), Outcome::BadResponse);
        assert_eq!(err.request_id(), Some("r-9"));
    }
}
