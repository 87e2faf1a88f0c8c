//! What the Huawei Cloud APIs share: AK/SK-signed GETs with the project in the path and in
//! `X-Project-Id`, errors as an HTTP status with `{"error_code", "error_msg"}`, and times with
//! a numeric zone offset.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    ApiError, ApiRequest, ApiResponse, Cloud, Outcome, Page, PageQuery, Provider, clip,
    clip_message, host_header, number, read_page, read_page_total_optional, text,
};
use crate::cloud::Credentials;
use crate::signing::huawei::{self as sign, HuaweiRequest};
use crate::task::{Task, TaskStatus, percent_to_ratio};

const CONTENT_TYPE: &str = "application/json";

/// One Huawei Cloud task API, described by its data: every Huawei provider is a value of this
/// type (see `huawei_rds.rs`), and this file is their one `impl Provider`.
#[derive(Debug)]
pub struct HuaweiApi {
    /// The config `kind` and the `provider` label value.
    pub kind: &'static str,
    /// The endpoint's host prefix: `rds` for `rds.<region>.myhuaweicloud.com`.
    pub service: &'static str,
    /// Regions whose host prefix is another, as the SDK's region table has them.
    pub service_in: &'static [(&'static str, &'static str)],
    /// The path of the `GET`, with `{project_id}` where the project goes.
    pub path: &'static str,
    /// Requests per second.
    pub rate_limit: f64,
    /// The largest `limit` the API accepts.
    pub page_size: u32,
    /// How far back the API keeps tasks, when its reference says.
    pub history: Option<std::time::Duration>,
    /// The query parameters of one page of one window.
    pub query: fn(&PageQuery) -> Vec<(&'static str, String)>,
    /// Where a page keeps its tasks and each task its fields.
    pub fields: Fields,
    /// The task status each of the API's status values means.
    pub status: fn(&str) -> TaskStatus,
}

/// The field names of one API's page. Every Huawei task list calls its count `total_count`
/// and writes `status`, `fail_reason`, `instance_id` and `instance_name`; the rest differs.
#[derive(Debug)]
pub struct Fields {
    /// The list of tasks: `tasks` or `jobs`.
    pub list: &'static str,
    /// Whether an answer may leave `total_count` out (then pages are read until a short one).
    pub total_optional: bool,
    pub id: &'static str,
    pub task_type: &'static str,
    /// The object holding `instance_id` and `instance_name`, when they are not on the task.
    pub instance_in: Option<&'static str>,
    /// The progress, a percent string: `"60"` or `"60%"`, empty unless running.
    pub progress: &'static str,
    pub created: &'static str,
    pub ended: &'static str,
}

impl Provider for HuaweiApi {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn cloud(&self) -> Cloud {
        Cloud::Huawei
    }

    fn api(&self) -> String {
        format!("GET {}", self.path)
    }

    /// `https://<service>.<region>.myhuaweicloud.com`, with the region's own prefix where the
    /// SDK has one; the European region `eu-west-101` is on `myhuaweicloud.eu`.
    fn default_endpoint(&self, region: &str) -> String {
        let domain = if region == "eu-west-101" {
            "myhuaweicloud.eu"
        } else {
            "myhuaweicloud.com"
        };
        let service = self
            .service_in
            .iter()
            .find(|(r, _)| *r == region)
            .map_or(self.service, |(_, service)| service);
        format!("https://{service}.{region}.{domain}")
    }

    fn history(&self) -> Option<std::time::Duration> {
        self.history
    }

    fn default_rate_limit(&self) -> f64 {
        self.rate_limit
    }

    fn max_page_size(&self) -> u32 {
        self.page_size
    }

    fn build_request(&self, query: &PageQuery) -> Result<ApiRequest, ApiError> {
        let project = project_id(query.credentials, query.region)?;
        let params = (self.query)(query);
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        build_request(query, &self.path.replace("{project_id}", project), &params)
    }

    fn parse_response(&self, response: &ApiResponse) -> Result<Page, ApiError> {
        let body = parse_body(response)?;
        let request_id = response.request_id.map(str::to_owned);
        let mut page = self
            .parse_page(&body)
            .map_err(|detail| ApiError::bad_response(detail, request_id.clone()))?;
        page.request_id = request_id;
        Ok(page)
    }
}

impl HuaweiApi {
    /// Reads the JSON body of a successful call into a page.
    pub fn parse_page(&self, body: &Value) -> Result<Page, String> {
        let fields = &self.fields;
        let total = ("total_count", &body["total_count"]);
        let list = (fields.list, &body[fields.list]);
        let normalise = |entry: &Value| self.normalise(entry).map(|(task, note)| ([task], note));
        if fields.total_optional {
            read_page_total_optional(total, list, normalise)
        } else {
            read_page(total, list, normalise)
        }
    }

    /// One entry of the list as a task, with a note when its status is not one the API
    /// documents.
    fn normalise(&self, entry: &Value) -> Result<(Task, Option<String>), String> {
        let fields = &self.fields;
        let id = text(&entry[fields.id]).ok_or_else(|| format!("no {}", fields.id))?;
        let start_time = time(&entry[fields.created])
            .ok_or_else(|| format!("task {id} has no readable {}", fields.created))?;
        let raw_status = entry["status"].as_str().unwrap_or_default();
        let status = (self.status)(raw_status);
        let note = (status == TaskStatus::Unknown)
            .then(|| format!("unknown status {:?} counted as unknown", clip(raw_status)));
        let instance = fields.instance_in.map_or(entry, |name| &entry[name]);
        let task = Task {
            task_type: text(&entry[fields.task_type]).unwrap_or_else(|| "unknown".into()),
            instance_id: text(&instance["instance_id"]).unwrap_or_default(),
            instance_name: text(&instance["instance_name"]),
            status,
            // Empty once finished, when the task is as far as it will get.
            progress: number(&entry[fields.progress])
                .and_then(percent_to_ratio)
                .or_else(|| status.is_finished().then_some(1.0)),
            start_time,
            // A running task may show its planned end: that is not an end.
            end_time: if status.is_finished() {
                time(&entry[fields.ended])
            } else {
                None
            },
            message: text(&entry["fail_reason"]),
            id,
        };
        Ok((task, note))
    }
}

/// The status vocabulary most Huawei database task lists document (RDS, GaussDB for openGauss,
/// DDS): `Running`, `Completed`, `Failed`; anything else is `unknown`.
pub fn status(raw: &str) -> TaskStatus {
    match raw {
        "Running" => TaskStatus::Running,
        "Completed" => TaskStatus::Succeeded,
        "Failed" => TaskStatus::Failed,
        _ => TaskStatus::Unknown,
    }
}

/// The account's project for `region`: its `project_ids` entry, else `project_id`.
pub fn project_id<'a>(credentials: &'a Credentials, region: &str) -> Result<&'a str, ApiError> {
    let Credentials::Huawei {
        project_id,
        project_ids,
        ..
    } = credentials
    else {
        return Err(ApiError::Request(
            "a Huawei API needs Huawei credentials".into(),
        ));
    };
    project_ids
        .get(region)
        .or(project_id.as_ref())
        .map(String::as_str)
        .ok_or_else(|| ApiError::Request(format!("no project_id for region {region}")))
}

/// A signed `GET <endpoint><path>?<query>`, the query sorted and encoded as it was signed.
pub fn build_request(
    query: &PageQuery,
    path: &str,
    params: &[(&str, &str)],
) -> Result<ApiRequest, ApiError> {
    let Credentials::Huawei {
        access_key,
        secret_key,
        token,
        ..
    } = query.credentials
    else {
        return Err(ApiError::Request(
            "a Huawei API needs Huawei credentials".into(),
        ));
    };
    let project = project_id(query.credentials, query.region)?;
    let host = host_header(query.endpoint)?;
    let full_path = format!("{}{path}", query.endpoint.path().trim_end_matches('/'));
    let sdk_date = query.now.format(sign::DATE_FORMAT).to_string();
    let mut headers = vec![
        ("Content-Type", CONTENT_TYPE.to_owned()),
        ("Host", host),
        ("X-Project-Id", project.to_owned()),
        ("X-Sdk-Date", sdk_date.clone()),
    ];
    if let Some(token) = token {
        headers.push(("X-Security-Token", token.expose().to_owned()));
    }
    let signed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let request = HuaweiRequest {
        method: "GET",
        path: &full_path,
        query: params,
        headers: &signed,
        body: b"",
    };
    let authorization = sign::authorization(access_key, secret_key.expose(), &request, &sdk_date);
    let mut url = query.endpoint.clone();
    url.set_path(&full_path);
    let query_string = sign::canonical_query(params);
    url.set_query((!query_string.is_empty()).then_some(query_string.as_str()));
    headers.push(("Authorization", authorization));
    Ok(ApiRequest {
        method: reqwest::Method::GET,
        url,
        headers,
        body: Vec::new(),
    })
}

/// The JSON body of a successful call, or the error the status and body describe.
pub fn parse_body(response: &ApiResponse) -> Result<Value, ApiError> {
    let header_id = response.request_id.map(str::to_owned);
    let value: Option<Value> = serde_json::from_slice(response.body).ok();
    if !(200..300).contains(&response.status) {
        let field = |names: &[&str]| {
            names.iter().find_map(|name| {
                value
                    .as_ref()
                    .and_then(|v| v.get(*name))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        };
        let code = field(&["error_code", "errorCode", "code"])
            .unwrap_or_else(|| format!("HTTP{}", response.status));
        return Err(ApiError::Provider {
            outcome: classify_error(response.status, &code),
            message: field(&["error_msg", "errorMsg", "message"]).map_or_else(
                || "error response without a message".into(),
                |m| clip_message(&m),
            ),
            code,
            http_status: response.status,
            request_id: field(&["request_id"]).or(header_id),
        });
    }
    match value {
        Some(value @ Value::Object(_)) => Ok(value),
        Some(_) => Err(ApiError::bad_response("not a JSON object", header_id)),
        None => Err(ApiError::bad_response("not JSON", header_id)),
    }
}

/// The `outcome` of an error response: the gateway's throttling and authentication codes
/// first, then the database services' own (DDS error-code table, Open Telekom Cloud
/// `document-database-service` `api-ref/source/appendix/error_code.rst`: 429 `DBS.280443`
/// "reduce the frequency of API calls", 400 `DBS.200998` "the system is busy, try again
/// later"), then the HTTP status.
pub fn classify_error(status: u16, code: &str) -> Outcome {
    match code {
        "APIGW.0308" | "APIG.0308" | "DBS.280443" => Outcome::Throttled,
        "DBS.200998" => Outcome::ServerError,
        "APIGW.0301" | "APIGW.0303" | "APIG.0301" | "APIG.0303" => Outcome::AuthError,
        _ => ApiError::outcome_of_http_status(status),
    }
}

/// A query time as these APIs document it, `yyyy-mm-ddThh:mm:ssZ` with `Z` a numeric offset
/// without a colon: always UTC, `2024-01-02T03:04:05+0000`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// A time of an answer: text as [`parse_time`] reads it, or a number of UTC milliseconds (the
/// openGauss API Explorer example writes them so, against its own schema).
fn time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => parse_time(text),
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}

/// Reads `2020-07-15T07:46:10+0000` (an offset without a colon), or RFC 3339. Empty and
/// unreadable are `None`.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: &[u8], header: Option<&str>) -> ApiError {
        parse_body(&ApiResponse {
            status,
            request_id: header,
            body,
        })
        .unwrap_err()
    }

    #[test]
    fn times_with_and_without_a_colon_in_the_offset() {
        let t = parse_time("2020-07-15T07:46:10+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2020-07-15T07:46:10+00:00");
        assert_eq!(parse_time("2020-07-15T15:46:10+0800"), Some(t));
        assert_eq!(parse_time("2020-07-15T15:46:10+08:00"), Some(t));
        assert_eq!(parse_time("2020-07-15T07:46:10Z"), Some(t));
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn errors_by_status_and_gateway_code() {
        let e = error(
            401,
            br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"r1"}"#,
            None,
        );
        assert_eq!(e.outcome(), Outcome::AuthError);
        assert_eq!(e.request_id(), Some("r1"));
        assert_eq!(
            e.to_string(),
            "APIGW.0301: Incorrect IAM authentication information (HTTP 401, request id r1)"
        );
        let e = error(
            429,
            br#"{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}"#,
            Some("hdr"),
        );
        assert_eq!(e.outcome(), Outcome::Throttled);
        assert_eq!(e.request_id(), Some("hdr"));
        // The code alone says throttled, whatever the status.
        assert_eq!(
            error(400, br#"{"errorCode":"APIG.0308","errorMsg":"x"}"#, None).outcome(),
            Outcome::Throttled
        );
        assert_eq!(
            error(403, br#"{"code":"DBS.280001","message":"x"}"#, None).outcome(),
            Outcome::AuthError
        );
        assert_eq!(
            error(
                400,
                br#"{"error_code":"DBS.200001","error_msg":"bad limit"}"#,
                None
            )
            .outcome(),
            Outcome::ClientError
        );
        assert_eq!(
            error(429, br#"{"error_code":"DBS.280443","error_msg":"The maximum number of connections has been reached."}"#, None).outcome(),
            Outcome::Throttled
        );
        assert_eq!(
            error(400, br#"{"error_code":"DBS.200998","error_msg":"The system is busy. Try again later."}"#, None).outcome(),
            Outcome::ServerError
        );
        assert_eq!(
            error(503, b"<html>unavailable</html>", None).outcome(),
            Outcome::ServerError
        );
    }

    #[test]
    fn a_success_that_is_not_an_object_is_a_bad_response() {
        for body in [&b"[]"[..], b"oops"] {
            let e = parse_body(&ApiResponse {
                status: 200,
                request_id: Some("h"),
                body,
            })
            .unwrap_err();
            assert_eq!(e.outcome(), Outcome::BadResponse);
            assert_eq!(e.request_id(), Some("h"));
        }
    }
}
