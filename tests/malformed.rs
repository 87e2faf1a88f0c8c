//! Malformed answers, one table for every provider: a page that cannot be read at all is a
//! `bad_response` (or the HTTP status's outcome), an entry that cannot be read is skipped and
//! counted, and nothing panics. Then the same over HTTP, through the exporter.

mod common;

use cloud_task_exporter::providers::{self, ApiResponse, Outcome};
use common::upstream::{Reply, Upstream};
use common::{parse, scrape, start_exporter, value};

/// What reading one answer must give.
#[derive(Debug, PartialEq)]
enum Expect {
    Error(Outcome),
    /// A page: how many tasks and how many skipped entries.
    Page {
        tasks: usize,
        skipped: u64,
    },
}

/// The list key of each Tencent API, and its well-formed task entry.
const TENCENT: [(&str, &str, &str); 4] = [
    (
        "tencent_postgres",
        "TaskSet",
        r#"{"TaskId": 1, "StartTime": "2024-01-01 08:00:00", "Status": "Running", "TaskType": "RestoreDatabase", "DBInstanceId": "postgres-1", "Progress": 10}"#,
    ),
    (
        "tencent_mysql",
        "Items",
        r#"{"JobId": 1, "StartTime": "2024-01-01 08:00:00", "TaskStatus": "RUNNING", "TaskType": "REBOOT", "InstanceIds": ["cdb-1"], "Progress": 10}"#,
    ),
    (
        "tencent_redis",
        "Tasks",
        r#"{"TaskId": 1, "StartTime": "2024-01-01 08:00:00", "Result": 1, "TaskType": "012", "InstanceId": "crs-1", "Progress": 0.1}"#,
    ),
    (
        "tencent_cynosdb",
        "TaskList",
        r#"{"ID": 1, "StartTime": "2024-01-01 08:00:00", "Status": "success", "TaskType": "taskCreateCluster", "InstanceId": "cynosdbmysql-1", "Process": 100}"#,
    ),
];

fn tencent_table(list: &str, good: &str) -> Vec<(u16, String, Expect)> {
    use Expect::{Error, Page};
    use Outcome::{BadResponse, ServerError, Throttled};
    let ok = |inner: String| format!(r#"{{"Response": {{"RequestId": "r-1", {inner}}}}}"#);
    vec![
        (200, String::new(), Error(BadResponse)),
        (200, "<html>ok</html>".into(), Error(BadResponse)),
        (
            200,
            r#"{"Response": {"TotalCount": 1"#.into(),
            Error(BadResponse),
        ),
        (200, r#"{"Response": null}"#.into(), Error(BadResponse)),
        (200, r#"{"Result": {}}"#.into(), Error(BadResponse)),
        (200, ok(format!(r#""{list}": []"#)), Error(BadResponse)),
        (
            200,
            ok(format!(r#""TotalCount": "many", "{list}": []"#)),
            Error(BadResponse),
        ),
        (
            200,
            ok(format!(r#""TotalCount": -1, "{list}": []"#)),
            Error(BadResponse),
        ),
        (
            200,
            ok(format!(r#""TotalCount": 1, "{list}": {{}}"#)),
            Error(BadResponse),
        ),
        (
            200,
            ok(format!(r#""TotalCount": 1, "{list}": "x""#)),
            Error(BadResponse),
        ),
        (
            200,
            ok(format!(r#""TotalCount": 0, "{list}": null"#)),
            Page {
                tasks: 0,
                skipped: 0,
            },
        ),
        (
            200,
            ok(r#""TotalCount": 0"#.into()),
            Page {
                tasks: 0,
                skipped: 0,
            },
        ),
        (
            200,
            ok(format!(
                r#""TotalCount": "4", "{list}": [null, 5, "x", {good}]"#
            )),
            Page {
                tasks: 1,
                skipped: 3,
            },
        ),
        (
            200,
            ok(format!(r#""TotalCount": 2, "{list}": [{{}}, {good}]"#)),
            Page {
                tasks: 1,
                skipped: 1,
            },
        ),
        (502, "<html>Bad Gateway</html>".into(), Error(ServerError)),
        (429, String::new(), Error(Throttled)),
    ]
}

/// The list key of each Huawei API, its well-formed task entry, and whether its answers may
/// leave the total out (DDS).
const HUAWEI: [(&str, &str, &str, bool); 4] = [
    (
        "huawei_rds",
        "tasks",
        r#"{"id": "a1", "name": "RebootInstance", "instance_id": "i1", "status": "Running", "process": "10", "create_time": "2024-01-01T00:00:00+0000"}"#,
        false,
    ),
    (
        "huawei_gaussdb",
        "tasks",
        r#"{"job_id": "a1", "name": "ResizeGaussDBV5Flavor", "instance_info": {"instance_id": "i1"}, "status": "Running", "process": "10", "created_at": "2024-01-01T08:00:00+0800"}"#,
        false,
    ),
    (
        "huawei_taurusdb",
        "jobs",
        r#"{"job_id": "a1", "job_name": "RebootGaussDBforMySQLInstance", "instance_id": "i1", "status": "Pending", "process": "", "created_time": "2024-01-01T00:00:00+0000"}"#,
        false,
    ),
    (
        "huawei_dds",
        "jobs",
        r#"{"id": "a1", "name": "RestartInstance", "instance_id": "i1", "status": "Running", "progress": "10%", "created_at": "2024-01-01T00:00:00+0000"}"#,
        true,
    ),
];

fn huawei_table(list: &str, good: &str, total_optional: bool) -> Vec<(u16, String, Expect)> {
    use Expect::{Error, Page};
    use Outcome::{AuthError, BadResponse, ClientError, ServerError, Throttled};
    vec![
        (200, String::new(), Error(BadResponse)),
        (200, "[]".into(), Error(BadResponse)),
        (
            200,
            format!(r#"{{"total_count": 1, "{list}": ["#),
            Error(BadResponse),
        ),
        (
            200,
            format!(r#"{{"{list}": []}}"#),
            if total_optional {
                Page {
                    tasks: 0,
                    skipped: 0,
                }
            } else {
                Error(BadResponse)
            },
        ),
        (
            200,
            format!(r#"{{"total_count": "x", "{list}": []}}"#),
            Error(BadResponse),
        ),
        (
            200,
            format!(r#"{{"total_count": 1, "{list}": {{}}}}"#),
            Error(BadResponse),
        ),
        (
            200,
            r#"{"total_count": 0}"#.into(),
            Page {
                tasks: 0,
                skipped: 0,
            },
        ),
        (
            200,
            format!(r#"{{"total_count": 3, "{list}": [null, {{"id": 7}}, {good}]}}"#),
            Page {
                tasks: 1,
                skipped: 2,
            },
        ),
        (401, "unauthorized".into(), Error(AuthError)),
        (429, String::new(), Error(Throttled)),
        (
            400,
            r#"{"error_code": "APIGW.0308", "error_msg": "throttled"}"#.into(),
            Error(Throttled),
        ),
        (
            404,
            r#"{"error_code": "APIGW.0101"}"#.into(),
            Error(ClientError),
        ),
        (
            500,
            r#"{"error_code": "DBS.0001", "error_msg": "x"}"#.into(),
            Error(ServerError),
        ),
        (503, "<html>unavailable</html>".into(), Error(ServerError)),
    ]
}

/// Alibaba's four products share one answer format.
const ALIBABA: [&str; 4] = [
    "alibaba_rds",
    "alibaba_redis",
    "alibaba_mongodb",
    "alibaba_polardb",
];

fn alibaba_table() -> Vec<(u16, String, Expect)> {
    use Expect::{Error, Page};
    use Outcome::{AuthError, BadResponse, ClientError, ServerError, Throttled};
    let good = r#"{"TaskId": "t-1", "TaskType": "HaSwitch", "InstanceId": "r-1", "Status": "Running", "Progress": 10.0, "StartTime": "2024-01-01T00:00:00Z"}"#;
    vec![
        (200, String::new(), Error(BadResponse)),
        (200, "[]".into(), Error(BadResponse)),
        (
            200,
            r#"{"TotalCount": 1, "Items": ["#.into(),
            Error(BadResponse),
        ),
        (
            200,
            r#"{"RequestId": "r", "Items": []}"#.into(),
            Error(BadResponse),
        ),
        (
            200,
            r#"{"TotalCount": "x", "Items": []}"#.into(),
            Error(BadResponse),
        ),
        (
            200,
            r#"{"TotalCount": 1, "Items": {}}"#.into(),
            Error(BadResponse),
        ),
        (
            200,
            r#"{"TotalCount": "0"}"#.into(),
            Page {
                tasks: 0,
                skipped: 0,
            },
        ),
        (
            200,
            format!(
                r#"{{"TotalCount": 4, "Items": [null, {{"TaskId": "t-7"}}, {{"StartTime": "2024-01-01T00:00:00Z"}}, {good}]}}"#
            ),
            Page {
                tasks: 1,
                skipped: 3,
            },
        ),
        (
            302,
            format!(r#"{{"TotalCount": 1, "Items": [{good}]}}"#),
            Error(ClientError),
        ),
        (403, "<html>forbidden</html>".into(), Error(AuthError)),
        (
            400,
            r#"{"Code": "Throttling.User", "Message": "m"}"#.into(),
            Error(Throttled),
        ),
        (
            404,
            r#"{"Code": "InvalidAccessKeyId.NotFound"}"#.into(),
            Error(AuthError),
        ),
        (
            400,
            r#"{"Code": "InvalidParameter"}"#.into(),
            Error(ClientError),
        ),
        (
            500,
            r#"{"Code": "InternalError"}"#.into(),
            Error(ServerError),
        ),
        (503, "<html>unavailable</html>".into(), Error(ServerError)),
    ]
}

fn read(kind: &str, status: u16, body: &str) -> Expect {
    let provider = providers::lookup(kind).expect("registered");
    match provider.parse_response(&ApiResponse {
        status,
        request_id: None,
        body: body.as_bytes(),
    }) {
        Ok(page) => Expect::Page {
            tasks: page.tasks.len(),
            skipped: page.skipped,
        },
        Err(error) => {
            // The message says what was wrong, and never is empty.
            assert!(!error.to_string().is_empty());
            Expect::Error(error.outcome())
        }
    }
}

#[test]
fn malformed_answers_of_every_provider() {
    let mut rows = 0;
    for (kind, list, good) in TENCENT {
        for (status, body, expect) in tencent_table(list, good) {
            assert_eq!(read(kind, status, &body), expect, "{kind}: {status} {body}");
            rows += 1;
        }
    }
    for (kind, list, good, total_optional) in HUAWEI {
        for (status, body, expect) in huawei_table(list, good, total_optional) {
            assert_eq!(read(kind, status, &body), expect, "{kind}: {status} {body}");
            rows += 1;
        }
    }
    for kind in ALIBABA {
        for (status, body, expect) in alibaba_table() {
            assert_eq!(read(kind, status, &body), expect, "{kind}: {status} {body}");
            rows += 1;
        }
    }
    assert_eq!(rows, 4 * 16 + 4 * 14 + 4 * 15);
}

/// A loopback HTTP server that answers every request with `status` and `body`.
async fn fixed_answer(status: u16, body: &str) -> std::net::SocketAddr {
    let body = body.to_owned();
    let (addr, _) = Upstream::start(move |_| Reply::Json(status, body.clone())).await;
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_exporter_a_bad_page_is_counted_and_entries_are_skipped() {
    let unreadable =
        fixed_answer(200, r#"{"Response": {"RequestId": "r-1", "TaskSet": []}}"#).await;
    let started =
        (chrono::Utc::now() - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S+0000");
    let half_readable = fixed_answer(
        200,
        &format!(r#"{{"total_count": 2, "tasks": [{{"id": 1}}, {{"id": "ok", "name": "RebootInstance", "instance_id": "i1", "status": "Running", "process": "10", "create_time": "{started}"}}]}}"#),
    )
    .await;
    let yaml = format!(
        r#"
global:
  min_interval: 0s
  lookback: 1h
accounts:
  - name: t
    provider: tencent
    credentials: {{secret_id: id, secret_key: key}}
    targets:
      - kind: tencent_postgres
        regions: [ap-guangzhou]
        endpoint: http://{unreadable}
  - name: h
    provider: huawei
    credentials: {{access_key: ak, secret_key: sk, project_id: p}}
    targets:
      - kind: huawei_rds
        regions: [cn-north-4]
        endpoint: http://{half_readable}
"#
    );
    let exporter = start_exporter(&yaml).await;
    let samples = parse(&scrape(exporter).await);
    let postgres = [
        ("account", "t"),
        ("provider", "tencent_postgres"),
        ("region", "ap-guangzhou"),
    ];
    assert_eq!(value(&samples, "cloud_task_up", &postgres), 0.0);
    let bad = [postgres.as_slice(), &[("outcome", "bad_response")]].concat();
    assert_eq!(value(&samples, "cloud_task_api_requests_total", &bad), 1.0);

    let huawei = [
        ("account", "h"),
        ("provider", "huawei_rds"),
        ("region", "cn-north-4"),
    ];
    assert_eq!(value(&samples, "cloud_task_up", &huawei), 1.0);
    assert_eq!(
        value(&samples, "cloud_task_skipped_entries_total", &huawei),
        1.0
    );
    let running = [
        huawei.as_slice(),
        &[
            ("instance_id", "i1"),
            ("task_type", "RebootInstance"),
            ("status", "running"),
        ],
    ]
    .concat();
    assert_eq!(value(&samples, "cloud_task_tasks", &running), 1.0);
}
