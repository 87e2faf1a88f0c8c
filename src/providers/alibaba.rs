//! What Alibaba Cloud's database APIs share: one task API, `DescribeHistoryTasks`, in each
//! product (RDS, R-KVStore, DDS, PolarDB), the same request fields and the same `Items[]`,
//! ACS3-HMAC-SHA256-signed `POST /` requests with every parameter in the query, and errors
//! as an HTTP status with `{"Code", "Message", "RequestId"}`.
//!
//! Facts from the official Python SDK (alibabacloud-tea-openapi 0.4.6; the product SDKs
//! alibabacloud-rds20140815 16.0.2, alibabacloud-r-kvstore20150101 7.0.0,
//! alibabacloud-dds20151201 9.5.0, alibabacloud-polardb20170801 9.2.1):
//! - request (`models/_describe_history_tasks_request.py`): `RegionId`, `FromStartTime` and
//!   `ToStartTime` (required, `yyyy-MM-ddTHH:mm:ssZ` in UTC, at most 30 days back),
//!   `PageNumber` (from 1), `PageSize` (10 to 100), `InstanceType` (only `Instance`);
//! - answer (`models/_describe_history_tasks_response_body.py`): `RequestId`, `TotalCount`
//!   (a string in PolarDB's, a number in the others), `Items[]` with `TaskId`, `TaskType`,
//!   `InstanceId`, `InstanceName`, `Status`, `Progress` (0 to 100), `StartTime`, `EndTime`,
//!   `CurrentStepName`, `ReasonCode`, `RemainTime` ...;
//! - `Status`: `Scheduled`, `Running`, `Succeed`, `Failed`, `Cancelling`, `Canceled`,
//!   `Waiting` (the same docstring in all four);
//! - errors (tea-openapi `client.py` `do_request`): an HTTP status of 400 or more carries the
//!   error; a 200 is an answer.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    ApiError, ApiRequest, ApiResponse, Cloud, Outcome, Page, PageQuery, Provider, clip,
    clip_message, host_header, number, read_page, text,
};
use crate::cloud::Credentials;
use crate::signing::acs3::{self, Acs3Request};
use crate::task::{Task, TaskStatus, percent_to_ratio};

/// How far back every `DescribeHistoryTasks` keeps tasks (the `FromStartTime` docstring).
pub const HISTORY: Duration = Duration::from_secs(30 * 24 * 3600);

/// The `User-Agent` sent, and signed, as the SDK signs every header it sends.
const USER_AGENT: &str = concat!("cloud-task-exporter/", env!("CARGO_PKG_VERSION"));

/// One product's `DescribeHistoryTasks`, described by its data: every Alibaba provider is a
/// value of this type (see `alibaba_rds.rs`), and this file is their one `impl Provider`.
#[derive(Debug)]
pub struct AlibabaApi {
    /// The config `kind` and the `provider` label value.
    pub kind: &'static str,
    /// The API version (`x-acs-version`).
    pub version: &'static str,
    /// The product's host label: a region's endpoint is `<product>.<region>.aliyuncs.com`
    /// (the SDK's `regional` endpoint rule)...
    pub product: &'static str,
    /// ... unless the SDK's `_endpoint_map` says otherwise (mostly the central host,
    /// `<product>.aliyuncs.com`). Its internal and test regions are left out.
    pub endpoint_map: &'static [(&'static str, &'static str)],
    /// Requests per second.
    pub rate_limit: f64,
}

impl Provider for AlibabaApi {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn cloud(&self) -> Cloud {
        Cloud::Alibaba
    }

    fn api(&self) -> String {
        format!("DescribeHistoryTasks {}", self.version)
    }

    fn default_endpoint(&self, region: &str) -> String {
        match self.endpoint_map.iter().find(|(r, _)| *r == region) {
            Some((_, host)) => format!("https://{host}"),
            None => format!("https://{}.{region}.aliyuncs.com", self.product),
        }
    }

    fn default_rate_limit(&self) -> f64 {
        self.rate_limit
    }

    fn max_page_size(&self) -> u32 {
        100
    }

    fn history(&self) -> Option<Duration> {
        Some(HISTORY)
    }

    fn build_request(&self, query: &PageQuery) -> Result<ApiRequest, ApiError> {
        self.signed_request(query, &format!("{:032x}", fastrand::u128(..)))
    }

    fn parse_response(&self, response: &ApiResponse) -> Result<Page, ApiError> {
        let body = parse_json(response)?;
        let request_id = body.get("RequestId").and_then(text);
        let mut page = parse_page(&body)
            .map_err(|detail| ApiError::bad_response(detail, request_id.clone()))?;
        page.request_id = request_id;
        Ok(page)
    }
}

impl AlibabaApi {
    /// The signed request for one page, with `nonce` as `x-acs-signature-nonce` (random for
    /// each request; fixed by the tests that check the request).
    pub fn signed_request(&self, query: &PageQuery, nonce: &str) -> Result<ApiRequest, ApiError> {
        // Never further back than the API keeps: a lookback of exactly 30 days, taken a
        // moment before the request, would otherwise ask for a little more.
        let earliest = query.now - chrono::Duration::from_std(HISTORY).unwrap_or_default()
            + chrono::Duration::minutes(1);
        let params = [
            ("RegionId", query.region.to_owned()),
            (
                "FromStartTime",
                format_time(query.window.start.max(earliest)),
            ),
            ("ToStartTime", format_time(query.window.end)),
            (
                "PageNumber",
                (query.offset / u64::from(query.limit.max(1)) + 1).to_string(),
            ),
            ("PageSize", query.limit.to_string()),
            ("InstanceType", "Instance".to_owned()),
        ];
        rpc(
            &Call {
                endpoint: query.endpoint,
                action: "DescribeHistoryTasks",
                version: self.version,
                now: query.now,
                nonce,
            },
            query.credentials,
            &params,
        )
    }
}

/// One call of an Alibaba Cloud OpenAPI action, RPC style.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub endpoint: &'a reqwest::Url,
    pub action: &'a str,
    pub version: &'a str,
    /// The signing time.
    pub now: DateTime<Utc>,
    /// `x-acs-signature-nonce`: random for each request.
    pub nonce: &'a str,
}

/// `POST /` calling `call` with every parameter in the query and an empty body, signed with
/// ACS3-HMAC-SHA256 as alibabacloud-tea-openapi signs RPC calls.
pub fn rpc(
    call: &Call,
    credentials: &Credentials,
    params: &[(&str, String)],
) -> Result<ApiRequest, ApiError> {
    let Credentials::Alibaba {
        access_key_id,
        access_key_secret,
        security_token,
    } = credentials
    else {
        return Err(ApiError::Request(
            "an Alibaba API needs Alibaba credentials".into(),
        ));
    };
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body_hash = crate::signing::sha256_hex(b"");
    let mut headers = vec![
        ("Host", host_header(call.endpoint)?),
        ("Accept", "application/json".to_owned()),
        ("User-Agent", USER_AGENT.to_owned()),
        ("x-acs-action", call.action.to_owned()),
        ("x-acs-version", call.version.to_owned()),
        ("x-acs-date", call.now.format(acs3::DATE_FORMAT).to_string()),
        ("x-acs-signature-nonce", call.nonce.to_owned()),
        ("x-acs-content-sha256", body_hash),
    ];
    if let Some(token) = security_token {
        headers.push(("x-acs-accesskey-id", access_key_id.clone()));
        headers.push(("x-acs-security-token", token.expose().to_owned()));
    }
    let signed: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let request = Acs3Request {
        method: "POST",
        path: "/",
        query: &params,
        headers: &signed,
        body: b"",
    };
    let authorization = acs3::authorization(access_key_id, access_key_secret.expose(), &request);
    let mut url = call.endpoint.clone();
    url.set_path("/");
    url.set_query(Some(&acs3::canonical_query(&params)));
    headers.push(("Authorization", authorization));
    Ok(ApiRequest {
        method: reqwest::Method::POST,
        url,
        headers,
        body: Vec::new(),
    })
}

/// The JSON body of an answer, or the error its status and body describe: only HTTP 200 is an
/// answer (an error is a status of 400 or more, the SDK's rule; any other is not an answer
/// either).
pub fn parse_json(response: &ApiResponse) -> Result<Value, ApiError> {
    let body: Value = match serde_json::from_slice(response.body) {
        Ok(body) => body,
        Err(e) if response.status == 200 => {
            return Err(ApiError::bad_response(format!("not JSON: {e}"), None));
        }
        Err(_) => Value::Null,
    };
    if response.status != 200 {
        let field = |name: &str| body.get(name).and_then(text);
        let code = field("Code").unwrap_or_else(|| format!("HTTP{}", response.status));
        return Err(ApiError::Provider {
            outcome: classify_error(response.status, &code),
            message: field("Message")
                .map_or_else(|| "unexpected HTTP status".into(), |m| clip_message(&m)),
            code,
            http_status: response.status,
            request_id: field("RequestId"),
        });
    }
    Ok(body)
}

/// The `outcome` of an error answer: its code first, then its HTTP status. The code families
/// are those issue 13 names for Alibaba's envelope (no list of codes is published for
/// `DescribeHistoryTasks`; the SDK itself looks only at the status).
pub fn classify_error(status: u16, code: &str) -> Outcome {
    let starts = |prefix: &str| code.starts_with(prefix);
    if starts("Throttling") {
        Outcome::Throttled
    } else if starts("InvalidAccessKeyId")
        || starts("SignatureDoesNotMatch")
        || starts("Forbidden")
        || starts("InvalidSecurityToken")
    {
        Outcome::AuthError
    } else if status >= 500 || starts("InternalError") || starts("ServiceUnavailable") {
        Outcome::ServerError
    } else {
        ApiError::outcome_of_http_status(status)
    }
}

/// `yyyy-MM-ddTHH:mm:ssZ` in UTC, as `FromStartTime`, `ToStartTime`, `StartTime` and
/// `EndTime` are written.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A time of an answer: `yyyy-MM-ddTHH:mm:ssZ`, the same without seconds (as the MongoDB
/// model's examples write it), or RFC 3339 with an offset; empty is `None`.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%MZ")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// The documented `Status` values. `Cancelling` is still doing work.
pub fn status(raw: &str) -> TaskStatus {
    match raw {
        "Scheduled" | "Waiting" => TaskStatus::Pending,
        "Running" | "Cancelling" => TaskStatus::Running,
        "Succeed" => TaskStatus::Succeeded,
        "Failed" => TaskStatus::Failed,
        "Canceled" => TaskStatus::Cancelled,
        _ => TaskStatus::Unknown,
    }
}

/// Reads a successful answer: `TotalCount` and `Items[]`.
pub fn parse_page(body: &Value) -> Result<Page, String> {
    read_page(
        ("TotalCount", &body["TotalCount"]),
        ("Items", &body["Items"]),
        |entry| normalise(entry).map(|(task, note)| ([task], note)),
    )
}

/// One `Items[]` entry as a task, with a note if its status was unknown.
pub fn normalise(entry: &Value) -> Result<(Task, Option<String>), String> {
    let id = text(&entry["TaskId"]).ok_or("no TaskId")?;
    let start_time = entry["StartTime"]
        .as_str()
        .and_then(parse_time)
        .ok_or("a task has no readable StartTime")?;
    let raw_status = entry["Status"].as_str().unwrap_or_default();
    let status = status(raw_status);
    let note = (status == TaskStatus::Unknown)
        .then(|| format!("unknown Status {:?} counted as unknown", clip(raw_status)));
    let task = Task {
        task_type: text(&entry["TaskType"]).unwrap_or_else(|| "unknown".into()),
        instance_id: text(&entry["InstanceId"]).unwrap_or_default(),
        instance_name: text(&entry["InstanceName"]),
        status,
        progress: number(&entry["Progress"]).and_then(percent_to_ratio),
        start_time,
        end_time: if status.is_finished() {
            entry["EndTime"].as_str().and_then(parse_time)
        } else {
            None
        },
        message: text(&entry["ReasonCode"]),
        id,
    };
    Ok((task, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{answer, utc};
    use crate::providers::{
        TimeWindow, alibaba_mongodb, alibaba_polardb, alibaba_rds, alibaba_redis,
    };
    use crate::secret::Secret;
    use serde_json::json;

    const ALL: [&AlibabaApi; 4] = [
        &alibaba_rds::PROVIDER,
        &alibaba_redis::PROVIDER,
        &alibaba_mongodb::PROVIDER,
        &alibaba_polardb::PROVIDER,
    ];

    fn vectors() -> Value {
        let path = format!(
            "{}/tests/fixtures/signing/alibaba_vectors.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn default_endpoints_are_the_ones_the_sdk_resolves() {
        let doc = vectors();
        for (provider, product) in ALL.iter().zip(["rds", "r-kvstore", "dds", "polardb"]) {
            let resolved = doc["endpoints"][product]["resolved"].as_object().unwrap();
            assert!(resolved.len() >= 14, "{product}");
            for (region, host) in resolved {
                if region.contains(' ') {
                    continue; // the SDK's `network` variants, not a region
                }
                assert_eq!(
                    provider.default_endpoint(region),
                    format!("https://{}", host.as_str().unwrap()),
                    "{product} {region}"
                );
            }
        }
    }

    #[test]
    fn a_region_the_sdk_does_not_list_follows_its_rule() {
        // DDS's rule names the product `dds`, though its map writes `mongodb.<region>`.
        assert_eq!(
            alibaba_mongodb::PROVIDER.default_endpoint("xx-unlisted-1"),
            "https://dds.xx-unlisted-1.aliyuncs.com"
        );
        assert_eq!(
            alibaba_mongodb::PROVIDER.default_endpoint("ap-south-1"),
            "https://mongodb.ap-south-1.aliyuncs.com"
        );
        assert_eq!(
            alibaba_rds::PROVIDER.default_endpoint("xx-unlisted-1"),
            "https://rds.xx-unlisted-1.aliyuncs.com"
        );
    }

    #[test]
    fn the_request_asks_for_one_page_of_the_window_and_signs_every_header() {
        let endpoint = reqwest::Url::parse("http://127.0.0.1:8080").unwrap();
        let credentials = Credentials::Alibaba {
            access_key_id: "LTAI5tEXAMPLE".into(),
            access_key_secret: Secret::new("secret".into()),
            security_token: Some(Secret::new("CAIS+token==".into())),
        };
        let query = PageQuery {
            region: "cn-hangzhou",
            endpoint: &endpoint,
            credentials: &credentials,
            window: TimeWindow {
                start: utc("2024-09-26T05:10:00Z"),
                end: utc("2024-09-27T05:10:00Z"),
            },
            offset: 200,
            limit: 100,
            now: utc("2024-09-27T05:10:07Z"),
        };
        let request = alibaba_polardb::PROVIDER
            .signed_request(&query, "0123456789abcdef0123456789abcdef")
            .unwrap();
        assert_eq!(request.method, reqwest::Method::POST);
        assert_eq!(
            request.url.as_str(),
            "http://127.0.0.1:8080/?FromStartTime=2024-09-26T05%3A10%3A00Z&InstanceType=Instance\
             &PageNumber=3&PageSize=100&RegionId=cn-hangzhou&ToStartTime=2024-09-27T05%3A10%3A00Z"
        );
        assert!(request.body.is_empty());
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("host"), Some("127.0.0.1:8080"));
        assert_eq!(header("x-acs-version"), Some("2017-08-01"));
        assert_eq!(header("x-acs-date"), Some("2024-09-27T05:10:07Z"));
        assert_eq!(header("x-acs-security-token"), Some("CAIS+token=="));
        assert_eq!(header("x-acs-accesskey-id"), Some("LTAI5tEXAMPLE"));
        // Every header sent is signed, as the SDK does.
        let authorization = header("authorization").unwrap();
        assert!(authorization.starts_with("ACS3-HMAC-SHA256 Credential=LTAI5tEXAMPLE,SignedHeaders=accept;host;user-agent;x-acs-accesskey-id;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature="), "{authorization}");
    }

    /// An answer in the shape of the SDK's `DescribeHistoryTasksResponseBody` model.
    fn page(total: Value, items: Value) -> Vec<u8> {
        json!({
            "RequestId": "A1B2C3D4-0000-4000-8000-000000000001",
            "TotalCount": total,
            "PageNumber": 1,
            "PageSize": 100,
            "Items": items,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn every_documented_status_and_the_model_fields_are_read() {
        let items = json!([
            {"TaskId": "t-1", "TaskType": "ModifyInsSpec", "InstanceId": "r-1", "InstanceName": "cache",
             "Status": "Running", "Progress": 42.5, "StartTime": "2024-09-27T05:00:00Z", "EndTime": "",
             "RemainTime": 60, "CurrentStepName": "do_task", "ReasonCode": ""},
            {"TaskId": "t-2", "TaskType": "RestartIns", "InstanceId": "r-1", "Status": "Succeed",
             "Progress": 100, "StartTime": "2024-09-27T04:00:00Z", "EndTime": "2024-09-27T04:05:00Z"},
            {"TaskId": "t-3", "TaskType": "HaSwitch", "InstanceId": "r-2", "Status": "Failed",
             "Progress": 30.0, "StartTime": "2024-09-27T03:00:00Z", "EndTime": "2024-09-27T03:01:00Z",
             "ReasonCode": "NodeUnavailable"},
            {"TaskId": "t-4", "TaskType": "CreateIns", "InstanceId": "r-3", "Status": "Scheduled", "StartTime": "2024-09-27T06:00:00Z"},
            {"TaskId": "t-5", "TaskType": "CreateIns", "InstanceId": "r-3", "Status": "Waiting", "StartTime": "2024-09-27T06:00:00Z"},
            {"TaskId": "t-6", "TaskType": "CreateIns", "InstanceId": "r-3", "Status": "Cancelling", "StartTime": "2024-09-27T06:00:00Z"},
            {"TaskId": "t-7", "TaskType": "CreateIns", "InstanceId": "r-3", "Status": "Canceled", "StartTime": "2024-09-27T06:00:00Z", "EndTime": "2024-09-27T06:01:00Z"},
            {"TaskId": "t-8", "TaskType": "CreateIns", "InstanceId": "r-3", "Status": "Paused?", "StartTime": "2024-09-27T06:00:00Z"},
            {"TaskType": "CreateIns", "Status": "Running", "StartTime": "2024-09-27T06:00:00Z"}
        ]);
        // PolarDB writes TotalCount as a string, the others as a number.
        for total in [json!(9), json!("9")] {
            let page = answer(&alibaba_redis::PROVIDER, 200, &page(total, items.clone())).unwrap();
            assert_eq!(page.total, Some(9));
            assert_eq!(
                page.request_id.as_deref(),
                Some("A1B2C3D4-0000-4000-8000-000000000001")
            );
            assert_eq!(page.skipped, 1);
            let statuses: Vec<TaskStatus> = page.tasks.iter().map(|t| t.status).collect();
            assert_eq!(
                statuses,
                [
                    TaskStatus::Running,
                    TaskStatus::Succeeded,
                    TaskStatus::Failed,
                    TaskStatus::Pending,
                    TaskStatus::Pending,
                    TaskStatus::Running,
                    TaskStatus::Cancelled,
                    TaskStatus::Unknown,
                ]
            );
            let running = &page.tasks[0];
            assert_eq!(running.progress, Some(0.425));
            assert_eq!(running.instance_name.as_deref(), Some("cache"));
            assert_eq!(running.start_time, utc("2024-09-27T05:00:00Z"));
            assert_eq!(running.end_time, None);
            let failed = &page.tasks[2];
            assert_eq!(failed.end_time, Some(utc("2024-09-27T03:01:00Z")));
            assert_eq!(failed.message.as_deref(), Some("NodeUnavailable"));
            assert_eq!(page.notes.len(), 2, "{:?}", page.notes);
        }
    }

    #[test]
    fn the_sdk_model_examples_are_read() {
        for (provider, instance, status) in [
            (
                &alibaba_rds::PROVIDER,
                "rm-uf62br2491p5l****",
                TaskStatus::Running,
            ),
            (
                &alibaba_redis::PROVIDER,
                "r-bp1zxszhcgatnx****",
                TaskStatus::Running,
            ),
            (
                &alibaba_mongodb::PROVIDER,
                "dds-t4n18194768fxxxx",
                TaskStatus::Succeeded,
            ),
            (
                &alibaba_polardb::PROVIDER,
                "pc-2zed3m89cw***",
                TaskStatus::Succeeded,
            ),
        ] {
            let page = crate::providers::testing::fixture(provider, "sdk_model_example1.json");
            assert_eq!(page.skipped, 0, "{}", provider.kind);
            assert!(page.notes.is_empty(), "{:?}", page.notes);
            let [task] = page.tasks.as_slice() else {
                panic!("{}: {:?}", provider.kind, page.tasks)
            };
            assert_eq!(task.instance_id, instance);
            assert_eq!(task.status, status);
        }
        // MongoDB's examples write times without seconds.
        let mongo = crate::providers::testing::fixture(
            &alibaba_mongodb::PROVIDER,
            "sdk_model_example1.json",
        );
        assert_eq!(mongo.tasks[0].start_time, utc("2023-02-11T02:33:00Z"));
        assert_eq!(mongo.tasks[0].end_time, Some(utc("2023-03-16T02:59:00Z")));
        assert_eq!(mongo.tasks[0].progress, Some(1.0));
        let polar = crate::providers::testing::fixture(
            &alibaba_polardb::PROVIDER,
            "sdk_model_example1.json",
        );
        assert_eq!(polar.total, Some(2));
    }

    #[test]
    fn error_answers_become_outcomes_by_code_then_status() {
        let error = |status: u16, code: &str| {
            let body = json!({"RequestId": "R-9", "HostId": "rds.aliyuncs.com", "Code": code, "Message": "m", "Recommend": "r"});
            answer(&alibaba_rds::PROVIDER, status, body.to_string().as_bytes()).unwrap_err()
        };
        for (status, code, outcome) in [
            (400, "Throttling.User", Outcome::Throttled),
            (503, "Throttling", Outcome::Throttled),
            (404, "InvalidAccessKeyId.NotFound", Outcome::AuthError),
            (400, "SignatureDoesNotMatch", Outcome::AuthError),
            (403, "Forbidden.RAM", Outcome::AuthError),
            (500, "InternalError", Outcome::ServerError),
            (503, "ServiceUnavailable", Outcome::ServerError),
            (502, "Whatever", Outcome::ServerError),
            (400, "InvalidParameter", Outcome::ClientError),
            (404, "InvalidAction.NotFound", Outcome::ClientError),
        ] {
            let err = error(status, code);
            assert_eq!(err.outcome(), outcome, "{status} {code}");
            assert_eq!(err.request_id(), Some("R-9"));
        }
        // A gateway page that is not JSON still gets its status's outcome.
        let err = answer(&alibaba_rds::PROVIDER, 502, b"<html>bad gateway</html>").unwrap_err();
        assert_eq!(err.outcome(), Outcome::ServerError);
        // A 200 that is not a page is a bad response.
        let err = answer(
            &alibaba_rds::PROVIDER,
            200,
            br#"{"RequestId":"R-1","Items":[]}"#,
        )
        .unwrap_err();
        assert_eq!(err.outcome(), Outcome::BadResponse);
        assert_eq!(err.request_id(), Some("R-1"));
    }
}
