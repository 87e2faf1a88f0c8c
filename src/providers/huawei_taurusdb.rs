//! GaussDB for MySQL (TaurusDB), "Querying Instant Tasks" (`ListImmediateJobs`):
//! `GET /v3/{project_id}/immediate-jobs`.
//!
//! Sources (huaweicloudsdkgaussdb 3.1.219 and the API reference; the research notes are
//! `docs/sources/huawei_gaussdb_taurusdb_dds.md` §2):
//! - request (`v3/model/list_immediate_jobs_request.py`): `status`, `job_name`, `job_id`,
//!   `offset`, `limit`, `start_time`, `end_time`, all optional strings. `limit` is 10, 20 or
//!   50. `offset` "defaults to 1": it is the page number, as Huawei's own Terraform provider
//!   pages it (`data_source_huaweicloud_gaussdb_mysql_instant_tasks.go`: 1, 2, 3 ... until a
//!   short page). Times are `yyyy-mm-ddThh:mm:ssZ` with a numeric offset (`+0100`).
//! - answer (`list_immediate_jobs_response.py`, `task_detail_info.py`): `total_count`,
//!   `jobs[]` of `job_id`, `job_name`, `status`, `process`, `created_time`, `ended_time`,
//!   `fail_reason`, `instance_id`, `instance_name`.
//! - status: `Pending`, `Running`, `Completed`, `Failed` (SDK docstrings); the newer
//!   reference page (support.huaweicloud.com/intl/id-id/api-taurusdb/ListImmediateJobs.html,
//!   2025-07-29) adds `Unauthorized` ("to be authorized": not started, so pending) and
//!   `Canceled`.
//! - No retention or rate limit is published for this list: no lookback limit, 10/s.
//! - hosts (`v3/region/gaussdb_region.py`): `gaussdb.<region>`, except five regions on
//!   `gaussdbformysql.<region>` and four on `gaussdb-mysql.<region>`.

use super::PageQuery;
use super::huawei::{self, Fields, HuaweiApi};
use crate::task::TaskStatus;

pub static PROVIDER: HuaweiApi = HuaweiApi {
    kind: "huawei_taurusdb",
    service: "gaussdb",
    service_in: &[
        ("tr-west-1", "gaussdbformysql"),
        ("ap-southeast-1", "gaussdbformysql"),
        ("ap-southeast-2", "gaussdbformysql"),
        ("cn-north-11", "gaussdbformysql"),
        ("me-east-1", "gaussdbformysql"),
        ("af-south-1", "gaussdb-mysql"),
        ("cn-east-5", "gaussdb-mysql"),
        ("la-north-2", "gaussdb-mysql"),
        ("cn-southwest-3", "gaussdb-mysql"),
    ],
    path: "/v3/{project_id}/immediate-jobs",
    // No limit is published for this API.
    rate_limit: 10.0,
    // The largest of the three sizes the API takes (10, 20, 50).
    page_size: 50,
    history: None,
    query,
    fields: Fields {
        list: "jobs",
        total_optional: false,
        id: "job_id",
        task_type: "job_name",
        instance_in: None,
        progress: "process",
        created: "created_time",
        ended: "ended_time",
    },
    status,
};

/// The page number from 1 as `offset`, `limit`, and the window in UTC.
fn query(query: &PageQuery) -> Vec<(&'static str, String)> {
    let page = query.offset / u64::from(query.limit.max(1)) + 1;
    vec![
        ("offset", page.to_string()),
        ("limit", query.limit.to_string()),
        ("start_time", huawei::format_time(query.window.start)),
        ("end_time", huawei::format_time(query.window.end)),
    ]
}

fn status(raw: &str) -> TaskStatus {
    match raw {
        "Pending" | "Unauthorized" => TaskStatus::Pending,
        "Running" => TaskStatus::Running,
        "Completed" => TaskStatus::Succeeded,
        "Failed" => TaskStatus::Failed,
        "Canceled" => TaskStatus::Cancelled,
        _ => TaskStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Credentials;
    use crate::providers::testing::{fixture, utc};
    use crate::providers::{Provider, TimeWindow};
    use crate::secret::Secret;
    use crate::task::Task;
    use serde_json::json;

    #[test]
    fn the_api_explorer_example() {
        let page = fixture(&PROVIDER, "apiexplorer_example1.json");
        assert_eq!(page.total, Some(1));
        assert_eq!(
            page.tasks,
            [Task {
                id: "7155730b-a60b-4dc0-9f89-3f55897f29d6".into(),
                task_type: "CloseGaussDBforMySQLProxy".into(),
                instance_id: "ede953923f06448d9be8686ef0c1378ein07".into(),
                instance_name: Some("gauss-1234".into()),
                status: TaskStatus::Succeeded,
                progress: Some(1.0),
                start_time: utc("2018-08-06T10:41:14Z"),
                end_time: Some(utc("2018-08-06T12:41:14Z")),
                message: Some("Single task exception.".into()),
            }]
        );
    }

    #[test]
    fn every_documented_status() {
        let entry = |id: &str, status: &str| {
            json!({"job_id": id, "job_name": "ResizeGaussDBforMySQLFlavor", "status": status,
                   "process": if status == "Running" { "40%" } else { "" },
                   "created_time": "2024-01-02T03:00:00+0000", "ended_time": "2024-01-02T03:10:00+0000",
                   "instance_id": "i1", "instance_name": "n1", "fail_reason": null})
        };
        let statuses = [
            "Pending",
            "Unauthorized",
            "Running",
            "Completed",
            "Failed",
            "Canceled",
            "Paused?",
        ];
        let jobs: Vec<_> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| entry(&i.to_string(), s))
            .collect();
        let page = PROVIDER
            .parse_page(&json!({"total_count": 7, "jobs": jobs}))
            .unwrap();
        let got: Vec<_> = page.tasks.iter().map(|t| t.status).collect();
        use TaskStatus::*;
        assert_eq!(
            got,
            [
                Pending, Pending, Running, Succeeded, Failed, Cancelled, Unknown
            ]
        );
        assert_eq!(page.tasks[2].progress, Some(0.4));
        assert_eq!(page.tasks[2].end_time, None);
        assert_eq!(page.tasks[3].duration_seconds(), Some(600.0));
        assert_eq!(page.notes.len(), 1);
    }

    #[test]
    fn offsets_are_page_numbers_and_times_are_utc() {
        let credentials = Credentials::Huawei {
            access_key: "AK".into(),
            secret_key: Secret::new("SK".to_owned()),
            token: None,
            project_id: Some("p1".into()),
            project_ids: Default::default(),
        };
        let endpoint = reqwest::Url::parse("https://gaussdb.cn-north-4.myhuaweicloud.com").unwrap();
        for (offset, page) in [(0, "1"), (50, "2"), (100, "3")] {
            let request = PROVIDER
                .build_request(&PageQuery {
                    region: "cn-north-4",
                    endpoint: &endpoint,
                    credentials: &credentials,
                    window: TimeWindow {
                        start: utc("2024-01-02T00:00:00Z"),
                        end: utc("2024-01-03T04:05:06Z"),
                    },
                    offset,
                    limit: 50,
                    now: utc("2024-01-03T04:05:06Z"),
                })
                .unwrap();
            assert_eq!(request.url.path(), "/v3/p1/immediate-jobs");
            assert_eq!(
                request.url.query(),
                Some(
                    format!(
                        "end_time=2024-01-03T04%3A05%3A06%2B0000&limit=50&offset={page}\
                         &start_time=2024-01-02T00%3A00%3A00%2B0000"
                    )
                    .as_str()
                )
            );
        }
    }

    #[test]
    fn default_endpoints_are_the_sdks() {
        for (region, host) in [
            ("cn-north-4", "gaussdb.cn-north-4"),
            ("ap-southeast-1", "gaussdbformysql.ap-southeast-1"),
            ("cn-east-5", "gaussdb-mysql.cn-east-5"),
        ] {
            assert_eq!(
                PROVIDER.default_endpoint(region),
                format!("https://{host}.myhuaweicloud.com")
            );
        }
    }
}
