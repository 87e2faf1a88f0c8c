//! Property-based fuzzing of every registered provider's response parser.
//!
//! Inputs are raw bytes, random JSON, and the seed fixtures of `tests/fixtures/<kind>/` after
//! random structural mutations (a node replaced by an extreme value, a key deleted or added, an
//! array element repeated, a node's type swapped) or text splices. Every parser must answer
//! without panicking, return no more tasks than the input has array elements, keep its output
//! (tasks, notes, error message) within a constant factor of the input, report the page total
//! the input gives, and name what was wrong when it refuses a page.
//!
//! `FUZZ_CASES=N` raises the number of cases per property; see `tests/fixtures/fuzz/README.md`.

use std::path::Path;

use cloud_task_exporter::providers::{self, ApiError, ApiResponse, Page, Provider};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Number, Value, json};

/// A page's strings may be at most this many times the size of the body (plus a constant):
/// each entry yields a task or a note of a bounded size, so a larger page means one input
/// field was copied many times.
const AMPLIFICATION: usize = 64;
const SLACK: usize = 4096;

fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn proptest_config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fuzz/fuzz_providers.proptest-regressions"
        )))),
        ..ProptestConfig::default()
    }
}

fn registered() -> Vec<&'static dyn Provider> {
    let kinds = providers::names();
    assert!(kinds.len() >= 4, "expected every provider kind: {kinds:?}");
    kinds
        .into_iter()
        .map(|kind| providers::lookup(kind).expect("a registered kind looks up"))
        .collect()
}

/// Every `*.json` under `tests/fixtures/<kind>/` and `tests/fixtures/fuzz/<kind>/`, parsed.
fn seeds() -> Vec<(&'static str, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seeds = Vec::new();
    for kind in providers::names() {
        for dir in [root.join(kind), root.join("fuzz").join(kind)] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut paths: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            paths.sort();
            for path in paths {
                let text = std::fs::read(&path).unwrap();
                let value = serde_json::from_slice(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seeds.push((kind, value));
            }
        }
    }
    for kind in providers::names() {
        assert!(
            seeds.iter().any(|(k, _)| *k == kind),
            "no seed fixture for {kind}"
        );
    }
    seeds
}

/// The field names the APIs use, so that added keys sometimes mean something.
const FIELDS: &[&str] = &[
    "PageNumber",
    "TaskList",
    "ID",
    "Process",
    "ErrMsg",
    "ReasonCode",
    "RemainTime",
    "Response",
    "RequestId",
    "Error",
    "Code",
    "Message",
    "TotalCount",
    "TaskSet",
    "Items",
    "Tasks",
    "TaskId",
    "JobId",
    "TaskType",
    "Type",
    "Status",
    "TaskStatus",
    "Result",
    "Progress",
    "StartTime",
    "EndTime",
    "DBInstanceId",
    "InstanceId",
    "InstanceIds",
    "InstanceName",
    "Data",
    "TaskDetail",
    "total_count",
    "tasks",
    "id",
    "name",
    "status",
    "process",
    "create_time",
    "end_time",
    "instance_id",
    "instance_name",
    "fail_reason",
    "jobs",
    "job_id",
    "job_name",
    "created_at",
    "ended_at",
    "created_time",
    "ended_time",
    "instance_info",
    "progress",
    "error_code",
    "error_msg",
    "request_id",
];

fn extreme_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
        prop::sample::select(vec![
            0.0,
            -0.0,
            -1.0,
            0.5,
            1.0,
            2.0,
            3.0,
            4.0,
            6.0,
            99.5,
            100.0,
            1e12,
            1e19,
            1e300,
            1e308,
            -1e308,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            1e-12,
            9007199254740993.0,
        ])
        .prop_map(|x| Value::Number(Number::from_f64(x).unwrap())),
    ]
}

fn extreme_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "",
            " ",
            "0",
            "-1",
            "60",
            "60%",
            "100%",
            "-5%",
            "1e12",
            "1e300",
            "1e400",
            "-1e400",
            "NaN",
            "inf",
            "-infinity",
            "0x10",
            "9999-12-31 23:59:59",
            "0000-00-00 00:00:00",
            "1970-01-01 08:00:00",
            "+262143-12-31 23:59:59",
            "-262144-01-01 00:00:00",
            "2024-02-30 12:00:00",
            "2024-09-27 13:14:11",
            "2024-09-27T13:14:11+08:00",
            "2020-07-15T07:46:10+0000",
            "2020-07-15T07:46:10+2359",
            "9999-12-31T23:59:59-2359",
            "+262143-12-31T23:59:59Z",
            "Running",
            "Success",
            "Fail",
            "Pause",
            "WaitSwitch",
            "Completed",
            "Failed",
            "RUNNING",
            "SUCCEED",
            "KILLED",
            "012",
            "4294967296",
            "18446744073709551616",
            "\u{0}",
            "\u{85}\u{2028}",
            "日本語のタスク",
            "${HOME}",
        ])
        .prop_map(str::to_owned),
        2 => "\\PC{0,24}",
        1 => (0usize..20_000, prop::char::any()).prop_map(|(n, c)| c.to_string().repeat(n)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        extreme_number(),
        extreme_string().prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(FIELDS).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

/// Any JSON value, up to a few levels deep, with the APIs' field names among its keys.
fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// One change to one node of a document, the node chosen by its pre-order index.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(Index, Value),
    /// Removes one key of an object or one element of an array.
    Delete(Index, Index),
    /// Adds (or overwrites) a key of an object, or appends to an array.
    Insert(Index, String, Value),
    /// Appends copies of one element of an array.
    Repeat(Index, Index, usize),
    /// Appends distinct numbers and strings to an array (distinct ids, distinct entries).
    Extend(Index, usize),
    /// The same content as another JSON type.
    SwapType(Index),
    /// The node wrapped in an array or an object.
    Wrap(Index, bool),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<Index>;
    prop_oneof![
        4 => (at(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => (at(), at()).prop_map(|(i, k)| Mutation::Delete(i, k)),
        2 => (at(), key(), json_value()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        1 => (at(), at(), 1usize..2000).prop_map(|(i, e, n)| Mutation::Repeat(i, e, n)),
        1 => (at(), 1usize..500).prop_map(|(i, n)| Mutation::Extend(i, n)),
        2 => at().prop_map(Mutation::SwapType),
        1 => (at(), any::<bool>()).prop_map(|(i, b)| Mutation::Wrap(i, b)),
    ]
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn node_at<'a>(root: &'a mut Value, index: &Index) -> &'a mut Value {
    let mut n = index.index(count_nodes(root));
    walk_to(root, &mut n).expect("an index below the node count")
}

/// The `n`th node in pre-order.
fn walk_to<'a>(value: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(value);
    }
    *n -= 1;
    match value {
        Value::Array(items) => items.iter_mut().find_map(|item| walk_to(item, n)),
        Value::Object(map) => map.values_mut().find_map(|item| walk_to(item, n)),
        _ => None,
    }
}

fn swap_type(value: Value) -> Value {
    match value {
        Value::Null => Value::String(String::new()),
        Value::Bool(b) => Value::from(u8::from(b)),
        Value::Number(n) => Value::String(n.to_string()),
        Value::String(s) => match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::Array(vec![Value::String(s)]),
        },
        Value::Array(items) => Value::Object(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        ),
        Value::Object(map) => Value::Array(map.into_iter().map(|(_, v)| v).collect()),
    }
}

fn apply(root: &mut Value, mutation: &Mutation) {
    match mutation {
        Mutation::Replace(at, value) => *node_at(root, at) = value.clone(),
        Mutation::Delete(at, which) => match node_at(root, at) {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(which.index(map.len())).unwrap().clone();
                map.remove(&key);
            }
            Value::Array(items) if !items.is_empty() => {
                items.remove(which.index(items.len()));
            }
            other => *other = Value::Null,
        },
        Mutation::Insert(at, key, value) => match node_at(root, at) {
            Value::Object(map) => {
                map.insert(key.clone(), value.clone());
            }
            Value::Array(items) => items.push(value.clone()),
            other => *other = json!({ key.clone(): value.clone() }),
        },
        Mutation::Repeat(at, which, times) => {
            if let Value::Array(items) = node_at(root, at)
                && !items.is_empty()
            {
                let item = items[which.index(items.len())].clone();
                items.extend(std::iter::repeat_n(item, *times));
            }
        }
        Mutation::Extend(at, count) => {
            if let Value::Array(items) = node_at(root, at) {
                items.extend((0..*count).map(|i| {
                    if i % 2 == 0 {
                        Value::from(i)
                    } else {
                        Value::String(format!("id-{i}"))
                    }
                }));
            }
        }
        Mutation::SwapType(at) => {
            let node = node_at(root, at);
            *node = swap_type(node.take());
        }
        Mutation::Wrap(at, in_array) => {
            let node = node_at(root, at);
            let inner = node.take();
            *node = if *in_array {
                Value::Array(vec![inner])
            } else {
                json!({ "x": inner })
            };
        }
    }
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => Just(200u16),
        1 => 200u16..300,
        2 => 100u16..600,
    ]
}

fn request_id() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-zA-Z0-9-]{0,40}")
}

/// How many array elements the document has, at any depth: every task comes from one entry of
/// the page's list or, for a CDB task that names several instances, from one element of its
/// `InstanceIds` or `Data`.
fn array_elements(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len() + items.iter().map(array_elements).sum::<usize>(),
        Value::Object(map) => map.values().map(array_elements).sum(),
        _ => 0,
    }
}

fn page_bytes(page: &Page) -> usize {
    let tasks: usize = page
        .tasks
        .iter()
        .map(|t| {
            t.id.len()
                + t.task_type.len()
                + t.instance_id.len()
                + t.instance_name.as_ref().map_or(0, String::len)
                + t.message.as_ref().map_or(0, String::len)
        })
        .sum();
    tasks + page.notes.iter().map(String::len).sum::<usize>()
}

/// The page total the document states, as a number: `None` if it states none.
fn stated_total(kind: &str, body: &Value) -> Option<f64> {
    let total = if kind.starts_with("tencent_") {
        &body["Response"]["TotalCount"]
    } else if kind.starts_with("alibaba_") {
        &body["TotalCount"]
    } else {
        &body["total_count"]
    };
    match total {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok(),
        _ => None,
    }
}

/// Whether `kind`'s answers may leave the total out (DDS).
fn total_optional(kind: &str) -> bool {
    kind == "huawei_dds"
}

/// Whether the document states no total at all (absent or null), as opposed to one that is
/// not a count.
fn total_absent(kind: &str, body: &Value) -> bool {
    let total = if kind.starts_with("tencent_") {
        &body["Response"]["TotalCount"]
    } else if kind.starts_with("alibaba_") {
        &body["TotalCount"]
    } else {
        &body["total_count"]
    };
    total.is_null()
}

/// The field names of `kind`'s page, one of which a complaint about the page should name.
fn page_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "tencent_postgres" => &["TotalCount", "TaskSet"],
        "tencent_mysql" => &["TotalCount", "Items"],
        "tencent_redis" => &["TotalCount", "Tasks"],
        "tencent_cynosdb" => &["TotalCount", "TaskList"],
        "huawei_rds" | "huawei_gaussdb" => &["total_count", "tasks"],
        "huawei_taurusdb" | "huawei_dds" => &["total_count", "jobs"],
        "alibaba_rds" | "alibaba_redis" | "alibaba_mongodb" | "alibaba_polardb" => {
            &["TotalCount", "Items"]
        }
        other => panic!("no page fields known for {other}; add them here"),
    }
}

/// What every answer of every parser must satisfy, whatever the input.
fn check(
    provider: &dyn Provider,
    status: u16,
    request_id: Option<&str>,
    body: &[u8],
) -> Result<(), TestCaseError> {
    let kind = provider.kind();
    let result = provider.parse_response(&ApiResponse {
        status,
        request_id,
        body,
    });
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let header_len = request_id.map_or(0, str::len);
    match result {
        Ok(page) => {
            let Some(doc) = parsed else {
                return Err(TestCaseError::fail(format!(
                    "{kind}: a body that is not JSON gave a page: {page:?}"
                )));
            };
            if kind.starts_with("tencent_") {
                prop_assert_eq!(status, 200, "{}: a Tencent page needs HTTP 200", kind);
            } else {
                prop_assert!((200..300).contains(&status), "{kind}: HTTP {status} page");
            }
            let elements = array_elements(&doc);
            prop_assert!(
                page.tasks.len() <= elements,
                "{kind}: {} tasks from {elements} array elements",
                page.tasks.len()
            );
            prop_assert!(page.skipped as usize <= elements);
            let bytes = page_bytes(&page);
            prop_assert!(
                bytes <= AMPLIFICATION * body.len() + SLACK,
                "{kind}: a {}-byte body gave {bytes} bytes of tasks and notes",
                body.len()
            );
            let stated = stated_total(kind, &doc);
            if stated.is_none() && total_optional(kind) && total_absent(kind, &doc) {
                prop_assert_eq!(page.total, None, "{}: total", kind);
            } else {
                prop_assert!(
                    stated.is_some_and(|t| t >= 0.0),
                    "{kind}: page with total {:?} from {:?}",
                    page.total,
                    stated
                );
                let stated = stated.unwrap();
                // A count past u64 saturates; a fraction is truncated.
                prop_assert_eq!(page.total, Some(stated as u64), "{}: total", kind);
            }
            for task in &page.tasks {
                prop_assert!(!task.id.is_empty(), "{kind}: task without id");
                prop_assert!(!task.task_type.is_empty(), "{kind}: task without type");
                if let Some(p) = task.progress {
                    prop_assert!((0.0..=1.0).contains(&p), "{kind}: progress {p}");
                }
                prop_assert!(
                    task.end_time.is_none() || task.status.is_finished(),
                    "{kind}: unfinished task with an end: {task:?}"
                );
                if let Some(d) = task.duration_seconds() {
                    prop_assert!(d.is_finite() && d >= 0.0);
                }
            }
        }
        Err(err) => {
            let message = err.to_string();
            prop_assert!(
                message.len() <= 2 * body.len() + 2 * header_len + 512,
                "{kind}: a {}-byte body gave a {}-byte error",
                body.len(),
                message.len()
            );
            match &err {
                ApiError::BadResponse { detail, .. } => {
                    let names_place = detail.contains("JSON")
                        || detail.contains("Response")
                        || page_fields(kind).iter().any(|f| detail.contains(f));
                    prop_assert!(
                        message.starts_with("malformed response: ") && names_place,
                        "{kind}: error does not say what is wrong: {message}"
                    );
                    if let Some(doc) = &parsed
                        && status == 200
                        && doc.is_object()
                    {
                        // A JSON page refused for its total or list must name that field.
                        prop_assert!(
                            detail.contains("Response")
                                || page_fields(kind).iter().any(|f| detail.contains(f)),
                            "{kind}: {message}"
                        );
                    }
                }
                ApiError::Provider { http_status, .. } => {
                    prop_assert_eq!(*http_status, status);
                    prop_assert!(
                        message.contains(&format!("(HTTP {status}, request id ")),
                        "{kind}: {message}"
                    );
                }
                other => {
                    return Err(TestCaseError::fail(format!(
                        "{kind}: parsing gave a non-parse error: {other:?}"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn check_all(status: u16, request_id: Option<&str>, body: &[u8]) -> Result<(), TestCaseError> {
    for provider in registered() {
        check(provider, status, request_id, body)?;
    }
    Ok(())
}

/// Bodies that are not the seeds: raw bytes, JSON-looking text, and random JSON documents,
/// bare or in a provider's envelope.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "[\\[\\]{}\":,0-9a-zA-Z.eE+\\- ]{0,256}".prop_map(String::into_bytes),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        json_value().prop_map(|v| serde_json::to_vec(&json!({ "Response": v })).unwrap()),
        (json_value(), json_value(), extreme_number()).prop_map(|(list, entry, total)| {
            serde_json::to_vec(&json!({
                "Response": {
                    "TotalCount": total, "TaskSet": [entry.clone()], "Items": [entry.clone()],
                    "Tasks": [entry.clone()], "RequestId": "r", "x": list,
                },
                "total_count": total, "tasks": [entry.clone()], "jobs": [entry],
            }))
            .unwrap()
        }),
    ]
}

/// Text that breaks JSON at a random place, spliced into a seed.
const SPLICES: &[&str] = &[
    "",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "1e400",
    "-1e400",
    "1e-400",
    "99999999999999999999999999",
    "-0",
    "\"\\ud800\"",
    "\\u0000",
    "\u{feff}",
    "\u{0}",
    "\"TotalCount\":1e300,",
    "\"total_count\":-1,",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
];

proptest! {
    #![proptest_config(proptest_config(512))]

    #[test]
    fn arbitrary_bodies_never_panic(
        status in 100u16..600,
        request_id in request_id(),
        body in any_body(),
    ) {
        check_all(status, request_id.as_deref(), &body)?;
    }

    #[test]
    fn arbitrary_bodies_with_http_200(request_id in request_id(), body in any_body()) {
        check_all(200, request_id.as_deref(), &body)?;
    }

    #[test]
    fn mutated_seeds_never_panic_and_stay_bounded(
        seed in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
        status in status(),
        request_id in request_id(),
    ) {
        let seeds = seeds();
        let (_, doc) = &seeds[seed.index(seeds.len())];
        let mut doc = doc.clone();
        for m in &mutations {
            apply(&mut doc, m);
        }
        let body = serde_json::to_vec(&doc).unwrap();
        // Every parser, not only the seed's own: a wrong shape must fail cleanly too.
        check_all(status, request_id.as_deref(), &body)?;
    }

    #[test]
    fn spliced_seeds_never_panic(
        seed in any::<Index>(),
        splices in prop::collection::vec(
            (any::<Index>(), any::<Index>(), 0usize..8, prop::sample::select(SPLICES)),
            1..4,
        ),
        status in status(),
    ) {
        let seeds = seeds();
        let (_, doc) = &seeds[seed.index(seeds.len())];
        let mut text = serde_json::to_string(doc).unwrap().into_bytes();
        for (at, _, cut, splice) in &splices {
            let start = at.index(text.len() + 1);
            let end = (start + cut).min(text.len());
            text.splice(start..end, splice.bytes());
        }
        check_all(status, None, &text)?;
    }

    #[test]
    fn huge_and_odd_totals_are_read_or_refused(
        seed in any::<Index>(),
        total in prop_oneof![
            extreme_number(),
            extreme_string().prop_map(Value::String),
            Just(Value::Null),
            json_value(),
        ],
    ) {
        let seeds = seeds();
        let (kind, doc) = &seeds[seed.index(seeds.len())];
        let mut doc = doc.clone();
        if kind.starts_with("tencent_") {
            doc["Response"]["TotalCount"] = total.clone();
        } else if kind.starts_with("alibaba_") {
            doc["TotalCount"] = total.clone();
        } else {
            doc["total_count"] = total.clone();
        }
        let body = serde_json::to_vec(&doc).unwrap();
        let provider = providers::lookup(kind).unwrap();
        check(provider, 200, None, &body)?;
        let result = provider.parse_response(&ApiResponse { status: 200, request_id: None, body: &body });
        // The total as JSON text reads it back: serde_json's default float parsing may be one
        // unit in the last place off the value that was written.
        let reread: Value = serde_json::from_slice(&body).unwrap();
        match (stated_total(kind, &reread), result) {
            (Some(t), Ok(page)) => prop_assert_eq!(page.total, Some(t as u64)),
            (None, Ok(page)) if total_optional(kind) && total.is_null() => {
                prop_assert_eq!(page.total, None)
            }
            (_, Ok(page)) => prop_assert!(false, "{}: total {:?} from {}", kind, page.total, total),
            (_, Err(err)) => {
                let message = err.to_string();
                let field = page_fields(kind)[0];
                prop_assert!(message.contains(field), "{}: {}", kind, message);
            }
        }
    }
}

#[test]
fn every_seed_parses() {
    for (kind, doc) in seeds() {
        let body = serde_json::to_vec(&doc).unwrap();
        let page = providers::lookup(kind)
            .unwrap()
            .parse_response(&ApiResponse {
                status: 200,
                request_id: None,
                body: &body,
            })
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(!page.tasks.is_empty(), "{kind}");
    }
}

#[test]
fn mutations_reach_every_node() {
    let mut doc = json!({"a": [1, {"b": null}], "c": "x"});
    assert_eq!(count_nodes(&doc), 6);
    for i in 0..6 {
        let mut copy = doc.clone();
        let mut n = i;
        *walk_to(&mut copy, &mut n).unwrap() = json!("hit");
        assert!(serde_json::to_string(&copy).unwrap().contains("hit"), "{i}");
    }
    *walk_to(&mut doc, &mut 1).unwrap() = swap_type(json!([1, 2]));
    assert_eq!(doc, json!({"a": {"0": 1, "1": 2}, "c": "x"}));
}

/// A CDB body with one task that names `ids` instances and carries a message of `message_len`
/// bytes.
fn cdb_task_of_many_instances(ids: usize, message_len: usize, in_data: bool) -> Vec<u8> {
    let ids: Vec<Value> = (0..ids).map(|i| json!(format!("cdb-{i}"))).collect();
    let mut entry = json!({
        "JobId": 1, "StartTime": "2024-01-01 08:00:00", "TaskStatus": "FAILED",
        "TaskType": "REBOOT", "Message": "x".repeat(message_len),
    });
    if in_data {
        let data: Vec<Value> = ids
            .into_iter()
            .map(|id| json!({ "InstanceId": id }))
            .collect();
        entry["Data"] = Value::Array(data);
    } else {
        entry["InstanceIds"] = Value::Array(ids);
    }
    serde_json::to_vec(&json!({"Response": {"TotalCount": 1, "RequestId": "r", "Items": [entry]}}))
        .unwrap()
}

proptest! {
    #![proptest_config(proptest_config(32))]

    /// The general mutations rarely make one entry name many distinct instances and carry a
    /// long message at once; this asks for it.
    #[test]
    fn cdb_tasks_naming_many_instances_stay_bounded(
        ids in 1usize..3000,
        message_len in 0usize..20_000,
        in_data in any::<bool>(),
    ) {
        let body = cdb_task_of_many_instances(ids, message_len, in_data);
        check(providers::lookup("tencent_mysql").unwrap(), 200, None, &body)?;
    }
}
