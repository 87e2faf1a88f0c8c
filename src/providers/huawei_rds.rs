//! Huawei Cloud RDS, "Querying Instant Tasks": `GET /v3/{project_id}/tasklist`.
//!
//! `offset`/`limit` paging (limit at most 50), the window as `start_time`/`end_time` in UTC
//! milliseconds (always sent together, as the API requires). `status` is `Running`,
//! `Completed` or `Failed`; `process` a percent string (`"60"` or `"60%"`), empty once
//! finished; `fail_reason` becomes the task message.

use super::PageQuery;
use super::huawei::{self, Fields, HuaweiApi};

/// The provider: everything above the query and the page format is Huawei's shared `impl`.
pub static PROVIDER: HuaweiApi = HuaweiApi {
    kind: "huawei_rds",
    service: "rds",
    service_in: &[],
    path: "/v3/{project_id}/tasklist",
    // No limit is published for this API (the gateway default is 200/s per API).
    rate_limit: 10.0,
    page_size: 50,
    history: None,
    query,
    fields: Fields {
        list: "tasks",
        total_optional: false,
        id: "id",
        task_type: "name",
        instance_in: None,
        progress: "process",
        created: "create_time",
        ended: "end_time",
    },
    status: huawei::status,
};

/// `offset`, `limit` and the window in UTC milliseconds (`start_time` and `end_time` always
/// together, as the API requires).
pub fn query(query: &PageQuery) -> Vec<(&'static str, String)> {
    vec![
        ("offset", query.offset.to_string()),
        ("limit", query.limit.to_string()),
        (
            "start_time",
            query.window.start.timestamp_millis().to_string(),
        ),
        ("end_time", query.window.end.timestamp_millis().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::Credentials;
    use crate::providers::huawei;
    use crate::providers::testing::utc;
    use crate::providers::{ApiResponse, Outcome, Provider, TimeWindow};
    use crate::secret::Secret;
    use crate::task::Task;
    use crate::task::TaskStatus;
    use serde_json::Value;
    use serde_json::json;

    #[test]
    fn seed003_example() {
        let body = std::fs::read(format!(
            "{}/tests/fixtures/huawei_rds/seed003_example1.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        let page = PROVIDER
            .parse_response(&ApiResponse {
                status: 200,
                request_id: Some("hdr-1"),
                body: &body,
            })
            .expect("parses");
        assert_eq!(page.total, Some(1));
        assert_eq!(page.request_id.as_deref(), Some("hdr-1"));
        assert_eq!(
            page.tasks,
            [Task {
                id: "676e9f17f9b74289883a44a47b8101f5".into(),
                task_type: "RestoreSqlserverInInstance".into(),
                instance_id: "4d00c7e9d22145deb889937a72b59c8ein01".into(),
                instance_name: Some("rds-local-scale".into()),
                status: TaskStatus::Succeeded,
                progress: Some(1.0),
                start_time: utc("2020-07-15T07:46:10Z"),
                end_time: Some(utc("2020-07-15T09:46:10Z")),
                message: None,
            }]
        );
    }

    #[test]
    fn running_failed_and_odd_entries() {
        let response = json!({
            "total_count": "5",
            "tasks": [
                {"id": "a", "name": "CreateInstance", "instance_id": "i1", "status": "Running", "process": "60%", "create_time": "2024-01-02T11:00:00+0800", "end_time": "2024-01-02T11:30:00+0800"},
                {"id": "b", "name": "Reboot", "instance_id": "i1", "status": "Failed", "process": "", "fail_reason": "disk full", "create_time": "2024-01-02T03:00:00+0000", "end_time": "2024-01-02T03:00:30+0000"},
                {"id": "c", "name": null, "status": "Frozen", "process": null, "create_time": "2024-01-02T03:00:00Z", "end_time": ""},
                {"id": "d", "status": "Running", "create_time": ""},
                {"name": "NoId", "create_time": "2024-01-02T03:00:00Z"},
            ],
        });
        let page = PROVIDER.parse_page(&response).unwrap();
        assert_eq!(page.total, Some(5));
        assert_eq!(page.skipped, 2);
        let [running, failed, odd] = page.tasks.as_slice() else {
            panic!("{:?}", page.tasks)
        };
        assert_eq!(running.status, TaskStatus::Running);
        assert_eq!(running.progress, Some(0.6));
        assert_eq!(running.start_time, utc("2024-01-02T03:00:00Z"));
        assert_eq!(running.end_time, None, "a planned end is not an end");
        assert_eq!(failed.status, TaskStatus::Failed);
        assert_eq!(failed.message.as_deref(), Some("disk full"));
        assert_eq!(failed.duration_seconds(), Some(30.0));
        assert_eq!(odd.status, TaskStatus::Unknown);
        assert_eq!(odd.task_type, "unknown");
        assert_eq!(odd.progress, None);
        assert_eq!(page.notes.len(), 3, "{:?}", page.notes);
    }

    #[test]
    fn a_page_that_is_not_a_page_is_a_bad_response() {
        for body in [&br#"{"tasks":[]}"#[..], br#"{"total_count":1,"tasks":{}}"#] {
            let err = PROVIDER
                .parse_response(&ApiResponse {
                    status: 200,
                    request_id: Some("r-3"),
                    body,
                })
                .unwrap_err();
            assert_eq!(err.outcome(), Outcome::BadResponse);
            assert_eq!(err.request_id(), Some("r-3"));
        }
    }

    #[test]
    fn default_endpoints() {
        assert_eq!(
            PROVIDER.default_endpoint("cn-north-4"),
            "https://rds.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            PROVIDER.default_endpoint("eu-west-101"),
            "https://rds.eu-west-101.myhuaweicloud.eu"
        );
    }

    /// The whole request, as sent, against the official SDK's vectors for the same inputs.
    #[test]
    fn requests_are_what_the_official_sdk_signs() {
        let path = format!(
            "{}/tests/fixtures/signing/huawei_vectors.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut checked = 0;
        for vector in doc["vectors"].as_array().unwrap() {
            let name = vector["name"].as_str().unwrap();
            if !matches!(
                name,
                "tasklist_minimal_offset0_limit50"
                    | "tasklist_security_token"
                    | "tasklist_loopback_host_with_port"
            ) {
                continue;
            }
            let s = |key: &str| vector[key].as_str().unwrap().to_owned();
            let credentials = Credentials::Huawei {
                access_key: s("ak"),
                secret_key: Secret::new(s("sk")),
                token: vector["security_token"]
                    .as_str()
                    .map(|t| Secret::new(t.to_owned())),
                project_id: Some(s("path").split('/').nth(2).unwrap().to_owned()),
                project_ids: Default::default(),
            };
            let scheme = if s("host").starts_with("127.") {
                "http"
            } else {
                "https"
            };
            let endpoint = reqwest::Url::parse(&format!("{scheme}://{}", s("host"))).unwrap();
            let request = PROVIDER
                .build_request(&PageQuery {
                    region: "cn-north-4",
                    endpoint: &endpoint,
                    credentials: &credentials,
                    window: TimeWindow {
                        start: utc("2024-01-02T00:00:00Z"),
                        end: utc("2024-01-03T00:00:00Z"),
                    },
                    offset: 0,
                    limit: 50,
                    now: utc("2024-01-02T03:04:05Z"),
                })
                .unwrap();
            assert_eq!(request.method, reqwest::Method::GET);
            assert_eq!(request.url.path(), s("path"), "{name}");
            assert_eq!(
                request.url.query(),
                Some(s("query_string").as_str()),
                "{name}"
            );
            let header = |n: &str| {
                request
                    .headers
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(header("Authorization"), Some(s("authorization")), "{name}");
            assert_eq!(header("Host"), Some(s("host")), "{name}");
            checked += 1;
        }
        assert_eq!(checked, 3);
    }

    #[test]
    fn project_per_region_wins_over_the_account_default() {
        let credentials = Credentials::Huawei {
            access_key: "AK".into(),
            secret_key: Secret::new("SK".to_owned()),
            token: None,
            project_id: Some("default-project".into()),
            project_ids: [("cn-east-3".to_owned(), "east-project".to_owned())].into(),
        };
        assert_eq!(
            huawei::project_id(&credentials, "cn-east-3").unwrap(),
            "east-project"
        );
        assert_eq!(
            huawei::project_id(&credentials, "cn-north-4").unwrap(),
            "default-project"
        );
    }
}
