//! GaussDB (for openGauss), "Querying Tasks" (`ListTasks`): `GET /v3/{project_id}/tasks`.
//!
//! Sources (huaweicloudsdkgaussdbforopengauss 3.1.219 and the API reference; the research
//! notes are `docs/sources/huawei_gaussdb_taurusdb_dds.md` §1):
//! - request (`v3/model/list_tasks_request.py`): `status`, `name`, `start_time`, `end_time`,
//!   `offset`, `limit`, all optional. `start_time`/`end_time` are "a UNIX timestamp, in
//!   milliseconds, UTC" (support.huaweicloud.com/api-gaussdb/gaussdb_api_130.html). `offset`
//!   is records skipped, default 0; `limit` 1-100, default 100 (SDK docstrings, same page).
//!   Huawei's Terraform provider sends page numbers instead; if the API did that, the second
//!   page would come back empty while `total_count` says more, which the sweep refuses with a
//!   `bad_response` naming the mismatch rather than skipping tasks.
//! - answer (`list_tasks_response.py`, `task_detail_result.py`, `instance_info_result.py`):
//!   `total_count`, `tasks[]` of `job_id`, `name`, `status`, `process` (percent), `created_at`,
//!   `ended_at` (`yyyy-mm-ddThh:mm:ss+0800`), `fail_reason`, and `instance_info`
//!   {`instance_id`, `instance_name`}.
//! - status: `Running`, `Completed`, `Failed` (reference page, filter values; the Open
//!   Telekom Cloud example answer, `tests/fixtures/huawei_gaussdb/`, shows the last two).
//! - "The tasks of the last month can be queried at most" (reference page): a lookback over
//!   30 days is a config error. No rate limit is published: 10/s, as for RDS.
//! - hosts (`v3/region/gaussdbforopengauss_region.py`): `gaussdb-opengauss.<region>`, except
//!   eight regions on `gaussdb.<region>`.

use std::time::Duration;

use super::PageQuery;
use super::huawei::{self, Fields, HuaweiApi};

pub static PROVIDER: HuaweiApi = HuaweiApi {
    kind: "huawei_gaussdb",
    service: "gaussdb-opengauss",
    service_in: &[
        ("cn-east-4", "gaussdb"),
        ("cn-east-5", "gaussdb"),
        ("ap-southeast-5", "gaussdb"),
        ("tr-west-1", "gaussdb"),
        ("me-east-1", "gaussdb"),
        ("af-north-1", "gaussdb"),
        ("cn-east-2", "gaussdb"),
        ("cn-north-12", "gaussdb"),
    ],
    path: "/v3/{project_id}/tasks",
    // No limit is published for this API.
    rate_limit: 10.0,
    page_size: 100,
    history: Some(Duration::from_secs(30 * 86_400)),
    query,
    fields: Fields {
        list: "tasks",
        total_optional: false,
        id: "job_id",
        task_type: "name",
        instance_in: Some("instance_info"),
        progress: "process",
        created: "created_at",
        ended: "ended_at",
    },
    status: huawei::status,
};

/// `offset` in records, `limit`, and the window in UTC milliseconds.
fn query(query: &PageQuery) -> Vec<(&'static str, String)> {
    vec![
        (
            "start_time",
            query.window.start.timestamp_millis().to_string(),
        ),
        ("end_time", query.window.end.timestamp_millis().to_string()),
        ("offset", query.offset.to_string()),
        ("limit", query.limit.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{answer, fixture, utc};
    use crate::providers::{Outcome, Provider};
    use crate::task::Task;
    use crate::task::TaskStatus;
    use serde_json::json;

    #[test]
    fn the_reference_example() {
        let page = fixture(&PROVIDER, "otcdocs_example1.json");
        assert_eq!(page.total, Some(2));
        assert_eq!(
            page.tasks,
            [
                Task {
                    id: "03bc055a-135c-4245-8bd8-b0bc6d3350b3".into(),
                    task_type: "CreateGaussDBV5Instance".into(),
                    instance_id: "ce2dce50f365430abe161bab79495a6ein14".into(),
                    instance_name: Some("gauss-6568-zzh".into()),
                    status: TaskStatus::Failed,
                    progress: Some(1.0),
                    start_time: utc("2022-08-05T00:15:07Z"),
                    end_time: Some(utc("2022-08-08T19:06:52Z")),
                    message: Some("An exception occurs when the ECS processes services.".into()),
                },
                Task {
                    id: "2cc16e0b-75ab-4a28-9453-16517e990bba".into(),
                    task_type: "DeleteGaussDBV5Instance".into(),
                    instance_id: "20ba433bd7ee40da9cf35064f04f9e4cin14".into(),
                    instance_name: Some("gauss-7875-lt-m".into()),
                    status: TaskStatus::Succeeded,
                    progress: Some(1.0),
                    start_time: utc("2022-08-06T01:15:07Z"),
                    end_time: Some(utc("2022-08-09T19:06:52Z")),
                    message: None,
                },
            ]
        );
        assert!(page.notes.is_empty(), "{:?}", page.notes);
    }

    /// The API Explorer's example writes times as epoch milliseconds and a `fail_reason` as a
    /// number, against its own schema: read as such.
    #[test]
    fn the_api_explorer_example() {
        let page = fixture(&PROVIDER, "apiexplorer_example1.json");
        assert_eq!(page.total, Some(2));
        let [failed, completed] = page.tasks.as_slice() else {
            panic!("{:?}", page.tasks)
        };
        assert_eq!(failed.status, TaskStatus::Failed);
        assert_eq!(failed.start_time, utc("2022-08-01T09:06:40.845Z"));
        assert_eq!(failed.end_time, Some(utc("2022-08-01T09:14:56.347Z")));
        assert_eq!(failed.message.as_deref(), Some("500000"));
        assert_eq!(failed.instance_name.as_deref(), Some("gauss-6568-zzh"));
        assert_eq!(completed.status, TaskStatus::Succeeded);
        assert_eq!(completed.progress, Some(1.0));
        assert_eq!(completed.message, None);
    }

    #[test]
    fn a_running_task_and_an_unknown_status() {
        let page = PROVIDER
            .parse_page(&json!({
                "total_count": 2,
                "tasks": [
                    {"job_id": "j1", "name": "BackupSnapshotGaussDBV5InInstance", "status": "Running",
                     "process": "60%", "created_at": "2024-01-02T11:00:00+0800", "ended_at": "2024-01-02T12:00:00+0800",
                     "instance_info": {"instance_id": "i1", "instance_name": "n1"}},
                    {"job_id": "j2", "name": "ResizeGaussDBV5Flavor", "status": "Suspended",
                     "process": null, "created_at": "2024-01-02T03:00:00+0000", "instance_info": null},
                ],
            }))
            .unwrap();
        let [running, odd] = page.tasks.as_slice() else {
            panic!("{:?}", page.tasks)
        };
        assert_eq!(running.status, TaskStatus::Running);
        assert_eq!(running.progress, Some(0.6));
        assert_eq!(running.instance_id, "i1");
        assert_eq!(running.start_time, utc("2024-01-02T03:00:00Z"));
        assert_eq!(running.end_time, None);
        assert_eq!(odd.status, TaskStatus::Unknown);
        assert_eq!(odd.instance_id, "");
        assert_eq!(
            page.notes,
            ["unknown status \"Suspended\" counted as unknown"]
        );
    }

    /// The reference's example of an error answer, under a 400.
    #[test]
    fn the_reference_error_example() {
        let path = format!(
            "{}/tests/fixtures/huawei_gaussdb/errors/otcdocs_example1.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(&path).unwrap();
        let err = answer(&PROVIDER, 400, &body).unwrap_err();
        assert_eq!(err.outcome(), Outcome::ClientError);
        assert_eq!(
            err.to_string(),
            "DBS.200022: The DB instance name already exists. (HTTP 400, request id none)"
        );
    }

    #[test]
    fn default_endpoints_are_the_sdks() {
        assert_eq!(
            PROVIDER.default_endpoint("cn-north-4"),
            "https://gaussdb-opengauss.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            PROVIDER.default_endpoint("cn-east-5"),
            "https://gaussdb.cn-east-5.myhuaweicloud.com"
        );
    }
}
