//! The task APIs, one file per provider kind, behind one trait and one registration table.
//!
//! A provider is pure: it turns a [`PageQuery`] into a signed [`ApiRequest`] and an
//! [`ApiResponse`] into a [`Page`] of normalised tasks. The sweep engine does the I/O, so the
//! seed fixtures test every provider without a socket.

pub mod alibaba;
pub mod alibaba_mongodb;
pub mod alibaba_polardb;
pub mod alibaba_rds;
pub mod alibaba_redis;
mod error;
pub mod huawei;
pub mod huawei_dds;
pub mod huawei_gaussdb;
pub mod huawei_rds;
pub mod huawei_taurusdb;
pub mod tencent;
pub mod tencent_cynosdb;
pub mod tencent_mysql;
pub mod tencent_postgres;
pub mod tencent_redis;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::cloud::Cloud;
use crate::cloud::Credentials;
use crate::task::Task;

pub use error::{ApiError, Outcome};

/// Every provider kind the exporter knows; a new provider is one file and one line here.
static REGISTRY: &[&dyn Provider] = &[
    &tencent_postgres::PROVIDER,
    &tencent_mysql::PROVIDER,
    &tencent_redis::PROVIDER,
    &tencent_cynosdb::PROVIDER,
    &huawei_rds::PROVIDER,
    &huawei_gaussdb::PROVIDER,
    &huawei_taurusdb::PROVIDER,
    &huawei_dds::PROVIDER,
    &alibaba_rds::PROVIDER,
    &alibaba_redis::PROVIDER,
    &alibaba_mongodb::PROVIDER,
    &alibaba_polardb::PROVIDER,
];

/// The provider registered under `kind`, e.g. `tencent_postgres`.
pub fn lookup(kind: &str) -> Option<&'static dyn Provider> {
    REGISTRY.iter().copied().find(|p| p.kind() == kind)
}

/// Every registered provider, in registration order.
pub fn registry() -> &'static [&'static dyn Provider] {
    REGISTRY
}

/// The registered kinds, for error messages and docs.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|p| p.kind()).collect()
}

/// The start-time window a sweep asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One page request of one target.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery<'a> {
    pub region: &'a str,
    /// The endpoint with `{region}` already substituted.
    pub endpoint: &'a reqwest::Url,
    pub credentials: &'a Credentials,
    pub window: TimeWindow,
    pub offset: u64,
    pub limit: u32,
    /// The signing time.
    pub now: DateTime<Utc>,
}

/// A signed HTTP request, ready to send.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What came back, as the provider's parser needs it.
#[derive(Debug, Clone, Copy)]
pub struct ApiResponse<'a> {
    pub status: u16,
    /// A request id sent as a header (Huawei's `X-Request-Id`), if any.
    pub request_id: Option<&'a str>,
    pub body: &'a [u8],
}

/// One page of normalised tasks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// How many tasks the whole query matches, for paging; `None` when the API does not say
    /// (then pages are asked for one after another until one is not full).
    pub total: Option<u64>,
    pub tasks: Vec<Task>,
    /// Entries of this page that were not tasks one can use; each was skipped.
    pub skipped: u64,
    /// Things worth one log line each (unknown statuses, skipped entries), not per scrape.
    pub notes: Vec<String>,
    pub request_id: Option<String>,
}

/// A task API: how to ask it for a page and how to read the answer.
pub trait Provider: Send + Sync {
    /// The config `kind` and the `provider` label value.
    fn kind(&self) -> &'static str;
    fn cloud(&self) -> Cloud;
    /// The API and version, for docs and the landing page.
    fn api(&self) -> String;
    fn default_endpoint(&self, region: &str) -> String;
    /// Requests per second, the provider's documented limit.
    fn default_rate_limit(&self) -> f64;
    /// The largest page the API accepts.
    fn max_page_size(&self) -> u32;
    /// How far back the API keeps tasks, if it says: a longer `lookback` is a config error.
    fn history(&self) -> Option<std::time::Duration> {
        None
    }
    fn build_request(&self, query: &PageQuery) -> Result<ApiRequest, ApiError>;
    fn parse_response(&self, response: &ApiResponse) -> Result<Page, ApiError>;
}

/// The `Host` header of a request to `url`, exactly as the HTTP client will send it (with the
/// port when the URL names one), which is what both signing schemes sign.
pub(crate) fn host_header(url: &reqwest::Url) -> Result<String, ApiError> {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => Ok(format!("{host}:{port}")),
        (Some(host), None) => Ok(host.to_owned()),
        (None, _) => Err(ApiError::Request(format!("endpoint {url} has no host"))),
    }
}

/// Reads a page: its total (a count, or the page is unusable) and its list of entries, each
/// normalised into tasks, with a note when something was odd, or skipped with the reason.
/// `list_name` and `total_name` are the API's field names, for messages.
pub(crate) fn read_page<I: IntoIterator<Item = Task>>(
    (total_name, total): (&str, &Value),
    list: (&str, &Value),
    normalise: impl Fn(&Value) -> Result<(I, Option<String>), String>,
) -> Result<Page, String> {
    let total = count(total).ok_or_else(|| format!("{total_name} is missing or not a count"))?;
    read_entries(Some(total), list, normalise)
}

/// [`read_page`] for an API whose answers may leave the total out: absent or null is no
/// total, anything else must still be a count.
pub(crate) fn read_page_total_optional<I: IntoIterator<Item = Task>>(
    (total_name, total): (&str, &Value),
    list: (&str, &Value),
    normalise: impl Fn(&Value) -> Result<(I, Option<String>), String>,
) -> Result<Page, String> {
    let total = match total {
        Value::Null => None,
        stated => Some(count(stated).ok_or_else(|| format!("{total_name} is not a count"))?),
    };
    read_entries(total, list, normalise)
}

/// A count: a number or numeric string, not negative.
fn count(value: &Value) -> Option<u64> {
    number(value).filter(|n| *n >= 0.0).map(|n| n as u64)
}

fn read_entries<I: IntoIterator<Item = Task>>(
    total: Option<u64>,
    (list_name, entries): (&str, &Value),
    normalise: impl Fn(&Value) -> Result<(I, Option<String>), String>,
) -> Result<Page, String> {
    let entries = match entries {
        Value::Array(entries) => entries.as_slice(),
        Value::Null => &[],
        _ => return Err(format!("{list_name} is not an array")),
    };
    let mut page = Page {
        total,
        ..Page::default()
    };
    for entry in entries {
        match normalise(entry) {
            Ok((tasks, note)) => {
                page.notes.extend(note);
                page.tasks.extend(tasks);
            }
            Err(reason) => {
                page.skipped += 1;
                page.notes
                    .push(format!("skipped an entry of {list_name}: {reason}"));
            }
        }
    }
    Ok(page)
}

/// At most the first 64 bytes of a value from an answer, cut at a character boundary: a note
/// that quotes one is logged once per distinct text, and must not be as long as the answer.
pub(crate) fn clip(text: &str) -> &str {
    clip_to(text, 64)
}

/// An error message from an answer, at most 256 bytes: it is copied into every report and log
/// line of the targets it concerns, and must not be as long as the answer.
pub(crate) fn clip_message(text: &str) -> String {
    clip_to(text, 256).to_owned()
}

fn clip_to(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// A string field that may come as a string or a number; empty and null are `None`.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A number field that may come as a number or a numeric string (`"60"`, `"60%"`).
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok(),
        _ => None,
    }
}

/// What the providers' unit tests share: their fixtures and answers made up in a test.
#[cfg(test)]
pub(crate) mod testing {
    use super::{ApiError, ApiResponse, Page, Provider};

    /// What `provider` makes of an answer with HTTP `status` and `body` (no request id header).
    pub fn answer(provider: &dyn Provider, status: u16, body: &[u8]) -> Result<Page, ApiError> {
        provider.parse_response(&ApiResponse {
            status,
            request_id: None,
            body,
        })
    }

    /// The page `provider` reads from `tests/fixtures/<kind>/<name>`, a real answer.
    pub fn fixture(provider: &dyn Provider, name: &str) -> Page {
        let path = format!(
            "{}/tests/fixtures/{}/{name}",
            env!("CARGO_MANIFEST_DIR"),
            provider.kind()
        );
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        answer(provider, 200, &body).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A time written in RFC 3339, as the tests state what they expect.
    pub fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }
}
