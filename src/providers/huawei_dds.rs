//! Document Database Service (DDS), "Querying Tasks" (`ListTasks`, v3.1):
//! `GET /v3.1/{project_id}/jobs`.
//!
//! Sources (huaweicloudsdkdds 3.1.219 and the API reference; the research notes are
//! `docs/sources/huawei_gaussdb_taurusdb_dds.md` §3):
//! - request (`v3/model/list_tasks_request.py`): `start_time` and `end_time` required (set
//!   unconditionally by the model; "Mandatory: Yes" on
//!   support.huaweicloud.com/intl/en-us/api-dds/dds_api_0301.html), `yyyy-mm-ddThh:mm:ssZ`
//!   with a numeric offset, the span at most 30 days; `offset` records skipped, default 0;
//!   `limit` 1-100.
//! - answer (`list_tasks_response.py`, `job_info.py`): `total_count`, `jobs[]` of `id`,
//!   `name`, `instance_id`, `instance_name`, `status`, `progress` (`"60%"`, `""` unless
//!   running), `fail_reason`, `created_at`, `ended_at`. Huawei's Terraform provider
//!   (`data_source_huaweicloud_dds_instant_tasks.go`) notes that `total_count` is in practice
//!   not returned and pages until a short page: so does the sweep when it is missing.
//! - status: `Running`, `Completed`, `Failed` (SDK docstrings of the request and `JobInfo`).
//! - "only tasks within one month can be queried" (reference page): a lookback over 30 days
//!   is a config error, which also keeps every window within the 30-day span. No rate limit
//!   is published (429 `DBS.280443` asks callers to slow down): 10/s.
//! - hosts (`v3/region/dds_region.py`): `dds.<region>.myhuaweicloud.com`, `eu-west-101` on
//!   `myhuaweicloud.eu`.

use std::time::Duration;

use super::PageQuery;
use super::huawei::{self, Fields, HuaweiApi};

/// The longest span between `start_time` and `end_time` the API accepts, and how far back it
/// keeps tasks.
const HISTORY: Duration = Duration::from_secs(30 * 86_400);

pub static PROVIDER: HuaweiApi = HuaweiApi {
    kind: "huawei_dds",
    service: "dds",
    service_in: &[],
    path: "/v3.1/{project_id}/jobs",
    // No limit is published for this API.
    rate_limit: 10.0,
    page_size: 100,
    history: Some(HISTORY),
    query,
    fields: Fields {
        list: "jobs",
        total_optional: true,
        id: "id",
        task_type: "name",
        instance_in: None,
        progress: "progress",
        created: "created_at",
        ended: "ended_at",
    },
    status: huawei::status,
};

/// The window in UTC (both ends always: the API requires them), `offset` in records, `limit`.
fn query(query: &PageQuery) -> Vec<(&'static str, String)> {
    vec![
        ("start_time", huawei::format_time(query.window.start)),
        ("end_time", huawei::format_time(query.window.end)),
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

    #[test]
    fn the_api_explorer_example() {
        let page = fixture(&PROVIDER, "apiexplorer_example1.json");
        assert_eq!(page.total, Some(1));
        assert_eq!(
            page.tasks,
            [Task {
                id: "2f406db7-bdc4-402f-9dc4-2c1b094a5f93".into(),
                task_type: "RestartReplicaSetInstance".into(),
                instance_id: "1f311e6a299345d7bbc878874844e233in02".into(),
                instance_name: Some("dds-6be2-fwyrestore".into()),
                status: TaskStatus::Succeeded,
                progress: Some(1.0),
                start_time: utc("2022-09-05T06:24:14Z"),
                end_time: Some(utc("2022-09-05T06:25:43Z")),
                message: None,
            }]
        );
    }

    #[test]
    fn a_page_with_and_without_its_total() {
        let body = br#"{"jobs": [{"id": "j1", "name": "MongodbSnapshotBackup", "instance_id": "i1",
            "instance_name": "dds-1", "status": "Running", "progress": "9%", "fail_reason": "",
            "created_at": "2024-01-02T11:00:00+0800", "ended_at": ""}]}"#;
        let page = answer(&PROVIDER, 200, body).unwrap();
        assert_eq!(page.total, None);
        assert_eq!(
            page.tasks,
            [Task {
                id: "j1".into(),
                task_type: "MongodbSnapshotBackup".into(),
                instance_id: "i1".into(),
                instance_name: Some("dds-1".into()),
                status: TaskStatus::Running,
                progress: Some(0.09),
                start_time: utc("2024-01-02T03:00:00Z"),
                end_time: None,
                message: None,
            }]
        );
        let page = answer(&PROVIDER, 200, br#"{"jobs": [], "total_count": 0}"#).unwrap();
        assert_eq!(page.total, Some(0));
        // Present, it must still be a count.
        let err = answer(&PROVIDER, 200, br#"{"jobs": [], "total_count": "many"}"#).unwrap_err();
        assert_eq!(err.outcome(), Outcome::BadResponse);
        assert!(err.to_string().contains("total_count"), "{err}");
    }

    #[test]
    fn the_history_is_the_api_span() {
        assert_eq!(PROVIDER.history(), Some(HISTORY));
        assert_eq!(
            PROVIDER.default_endpoint("eu-west-101"),
            "https://dds.eu-west-101.myhuaweicloud.eu"
        );
    }
}
