//! TencentDB for PostgreSQL, `DescribeTasks` (2017-03-12).
//!
//! Pages of at most 100 by `Limit`/`Offset`, ordered by start time ascending so that tasks
//! starting during a sweep append to the end instead of shifting the pages already read.

use serde_json::{Value, json};

use super::tencent::{self, TencentApi};
use super::{Page, PageQuery, number, read_page, text};
use crate::task::{Task, TaskStatus, percent_to_ratio};

/// The provider: everything above the page format is Tencent's shared `impl`.
pub static PROVIDER: TencentApi = TencentApi {
    kind: "tencent_postgres",
    service: "postgres",
    action: "DescribeTasks",
    version: "2017-03-12",
    rate_limit: 20.0,
    page_size: 100,
    request_body,
    parse_page,
};

pub fn request_body(query: &PageQuery) -> Value {
    json!({
        "MinStartTime": tencent::format_time(query.window.start),
        "MaxStartTime": tencent::format_time(query.window.end),
        "Limit": query.limit,
        "Offset": query.offset,
        "OrderBy": "StartTime",
        "OrderByType": "asc",
    })
}

/// Reads the `Response` object of a successful call. A page without `TotalCount` cannot be
/// paged and is an error; a `TaskSet` entry that is not a usable task is skipped and noted.
pub fn parse_page(response: &Value) -> Result<Page, String> {
    read_page(
        ("TotalCount", &response["TotalCount"]),
        ("TaskSet", &response["TaskSet"]),
        |entry| normalise(entry).map(|(task, note)| ([task], note)),
    )
}

/// Maps PostgreSQL's `Status`. `WaitSwitch` means the work is done but the switch-over waits
/// for its maintenance window: not finished, so `paused`.
pub fn status(raw: &str) -> TaskStatus {
    match raw {
        "Running" => TaskStatus::Running,
        "Success" => TaskStatus::Succeeded,
        "Fail" | "Failed" => TaskStatus::Failed,
        "Pause" | "WaitSwitch" => TaskStatus::Paused,
        _ => TaskStatus::Unknown,
    }
}

/// One `TaskSet` entry as a task, with a note if its status was unknown.
pub fn normalise(entry: &Value) -> Result<(Task, Option<String>), String> {
    let id = text(&entry["TaskId"]).ok_or("no TaskId")?;
    let start_time = entry["StartTime"]
        .as_str()
        .and_then(tencent::parse_time)
        .ok_or_else(|| format!("task {id} has no readable StartTime"))?;
    let raw_status = entry["Status"].as_str().unwrap_or_default();
    let status = status(raw_status);
    let note = (status == TaskStatus::Unknown)
        .then(|| format!("unknown Status {raw_status:?} counted as unknown"));
    let detail = &entry["TaskDetail"];
    let task = Task {
        task_type: text(&entry["TaskType"]).unwrap_or_else(|| "unknown".into()),
        instance_id: text(&entry["DBInstanceId"]).unwrap_or_default(),
        instance_name: None,
        status,
        progress: number(&entry["Progress"]).and_then(percent_to_ratio),
        start_time,
        end_time: if status.is_finished() {
            entry["EndTime"].as_str().and_then(tencent::parse_time)
        } else {
            None
        },
        message: text(&detail["Message"]),
        id,
    };
    Ok((task, note))
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
    fn seed_example1_latest_task() {
        let page = fixture("seed000_example1.json");
        assert_eq!(page.total, Some(20));
        assert_eq!(
            page.request_id.as_deref(),
            Some("3f164712-8746-464f-a490-3084a470000e")
        );
        assert_eq!(
            page.tasks,
            [Task {
                id: "1202345".into(),
                task_type: "RestoreDatabase".into(),
                instance_id: "postgres-q6fj84vb".into(),
                instance_name: None,
                status: TaskStatus::Succeeded,
                progress: Some(1.0),
                start_time: utc("2024-09-27T05:14:11Z"),
                end_time: Some(utc("2024-09-27T05:18:11Z")),
                message: None,
            }]
        );
        assert_eq!(page.tasks[0].duration_seconds(), Some(240.0));
    }

    #[test]
    fn seed_example2_running_task_has_no_end() {
        let page = fixture("seed000_example2.json");
        assert_eq!(page.total, Some(1));
        assert_eq!(
            page.tasks,
            [Task {
                id: "120321".into(),
                task_type: "DestroyInstance".into(),
                instance_id: "postgres-0e3hth5b".into(),
                instance_name: None,
                status: TaskStatus::Running,
                progress: Some(0.0),
                start_time: utc("2024-09-27T08:06:02Z"),
                end_time: None,
                message: None,
            }]
        );
        assert!(page.notes.is_empty());
    }

    #[test]
    fn seed_example3_tasks_of_an_instance() {
        let page = fixture("seed000_example3.json");
        assert_eq!(page.total, Some(6));
        let ids: Vec<_> = page.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(
            ids,
            ["120006", "120005", "120004", "120003", "120002", "120001"]
        );
        assert!(page.tasks.iter().all(|t| t.status == TaskStatus::Succeeded
            && t.task_type == "RestoreDatabase"
            && t.instance_id == "postgres-q6fj84vb"
            && t.progress == Some(1.0)));
        let durations: Vec<_> = page
            .tasks
            .iter()
            .map(|t| t.duration_seconds().unwrap())
            .collect();
        assert_eq!(durations, [240.0, 256.0, 248.0, 82.0, 275.0, 227.0]);
        assert_eq!(page.skipped, 0);
    }

    #[test]
    fn statuses_of_the_sdk_and_the_docs() {
        assert_eq!(status("Running"), TaskStatus::Running);
        assert_eq!(status("Success"), TaskStatus::Succeeded);
        assert_eq!(status("Fail"), TaskStatus::Failed);
        assert_eq!(status("Failed"), TaskStatus::Failed);
        assert_eq!(status("Pause"), TaskStatus::Paused);
        assert_eq!(status("WaitSwitch"), TaskStatus::Paused);
        assert_eq!(status("Exploded"), TaskStatus::Unknown);
    }

    #[test]
    fn odd_entries_are_skipped_or_noted_never_fatal() {
        let response = json!({
            "TotalCount": "3",
            "TaskSet": [
                {"TaskId": "77", "StartTime": "2024-09-27 13:14:11", "Status": "Exploded", "Progress": "40", "TaskDetail": null},
                {"TaskId": 78, "StartTime": "", "Status": "Running"},
                {"StartTime": "2024-09-27 13:14:11"},
            ],
        });
        let page = parse_page(&response).unwrap();
        assert_eq!(page.total, Some(3));
        assert_eq!(page.skipped, 2);
        assert_eq!(page.tasks.len(), 1);
        assert_eq!(page.tasks[0].status, TaskStatus::Unknown);
        assert_eq!(page.tasks[0].progress, Some(0.4));
        assert_eq!(page.tasks[0].task_type, "unknown");
        assert_eq!(page.notes.len(), 3, "{:?}", page.notes);
    }

    #[test]
    fn a_page_without_total_is_a_bad_response() {
        let err = answer(
            &PROVIDER,
            200,
            br#"{"Response":{"RequestId":"r-9","TaskSet":[]}}"#,
        )
        .unwrap_err();
        assert_eq!(err.outcome(), Outcome::BadResponse);
        assert_eq!(err.request_id(), Some("r-9"));
    }
}
