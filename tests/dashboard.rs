//! The Grafana dashboard as a file: importable and provisionable as it is (a datasource
//! variable, no `__inputs`, no datasource uid of anyone's Grafana), filter variables that are
//! multi-value and chained, every query filtered by every variable its metric has labels for,
//! and panels with a unit, a readable legend and a place of their own on the grid.
//! Whether the queries return data is `tests/prometheus_e2e.rs`'s job.

mod monitoring;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use monitoring::FILTERS;

fn datasource_variable() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// Every `datasource` reference anywhere in the dashboard, with where it is.
fn datasource_references<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "datasource" {
                    out.push((at.clone(), child));
                }
                datasource_references(child, format!("{at}.{key}"), out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                datasource_references(child, format!("{at}[{index}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn imports_and_provisions_without_inputs_or_a_fixed_datasource() {
    let dashboard = monitoring::dashboard();
    assert!(
        dashboard.get("__inputs").is_none(),
        "__inputs only works through the import UI; provisioning leaves ${{DS_...}} unresolved"
    );
    assert!(dashboard["id"].is_null(), "an id belongs to one Grafana");
    let uid = dashboard["uid"].as_str().unwrap_or_default();
    assert!((1..=40).contains(&uid.len()), "uid: {uid:?}");
    assert!(!dashboard["title"].as_str().unwrap_or_default().is_empty());
    let schema = dashboard["schemaVersion"].as_i64().unwrap_or_default();
    assert!((36..=41).contains(&schema), "schemaVersion {schema}");

    let mut references = Vec::new();
    datasource_references(&dashboard, String::new(), &mut references);
    let grafana_builtin = json!({"type": "grafana", "uid": "-- Grafana --"});
    for (at, reference) in &references {
        let annotation = at.starts_with(".annotations") && **reference == grafana_builtin;
        assert!(
            **reference == datasource_variable() || annotation,
            "{at}: datasource {reference} is not the $datasource variable"
        );
    }
    assert!(references.len() > 40, "{} references", references.len());

    let variables = monitoring::variables(&dashboard);
    let datasource = &variables[0];
    assert_eq!(
        (
            &datasource["name"],
            &datasource["type"],
            &datasource["query"]
        ),
        (
            &json!("datasource"),
            &json!("datasource"),
            &json!("prometheus")
        )
    );
}

#[test]
fn filter_variables_are_multi_value_with_all_and_chained() {
    let dashboard = monitoring::dashboard();
    let variables = monitoring::variables(&dashboard);
    let names: Vec<&str> = variables
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(
        names[1..],
        FILTERS,
        "variables in chain order after datasource"
    );
    for (index, variable) in variables[1..].iter().enumerate() {
        let name = FILTERS[index];
        assert_eq!(variable["type"], "query", "{name}");
        assert_eq!(variable["datasource"], datasource_variable(), "{name}");
        assert_eq!(variable["multi"], true, "{name}");
        assert_eq!(variable["includeAll"], true, "{name}");
        assert_eq!(variable["allValue"], ".*", "{name}");
        let query = monitoring::variable_query(variable);
        let (selector, label) = monitoring::label_values(query)
            .unwrap_or_else(|| panic!("{name}: not label_values(selector, label): {query}"));
        assert_eq!(label, name);
        let filters: BTreeSet<String> = matchers(selector_body(selector))
            .into_iter()
            .map(|(label, op, value)| {
                assert_eq!((op.as_str(), value), ("=~", format!("${label}")), "{name}");
                label
            })
            .collect();
        let earlier: BTreeSet<String> = FILTERS[..index].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            filters, earlier,
            "{name} is narrowed by the variables before it"
        );
    }
}

/// Metrics with the task labels: every filter variable applies.
const TASK_METRICS: [&str; 8] = [
    "cloud_task_tasks",
    "cloud_task_progress_ratio",
    "cloud_task_start_timestamp_seconds",
    "cloud_task_finished_total",
    "cloud_task_duration_seconds_bucket",
    "cloud_task_duration_seconds_sum",
    "cloud_task_duration_seconds_count",
    "account_provider_region_instance_id_task_type_status:cloud_task_duration_seconds_bucket:rate1h",
];

/// Per-target self-metrics: only account, provider and region apply. Filtering them by
/// instance or task type would blank the health panels as soon as one is selected.
const TARGET_METRICS: [&str; 10] = [
    "cloud_task_up",
    "cloud_task_sweep_duration_seconds",
    "cloud_task_last_sweep_success_timestamp_seconds",
    "cloud_task_api_requests_total",
    "cloud_task_api_request_duration_seconds_bucket",
    "cloud_task_api_request_duration_seconds_sum",
    "cloud_task_api_request_duration_seconds_count",
    "cloud_task_api_pages_total",
    "cloud_task_rate_limit_wait_seconds_total",
    "cloud_task_skipped_entries_total",
];

fn is_identifier(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The exporter's metrics an expression selects (names starting with `cloud_task_`, or
/// recording rules of them), each with the text between its braces, if any.
fn selectors(expr: &str) -> Vec<(String, Option<String>)> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            in_string = !in_string;
        }
        let starts = !in_string
            && (c.is_ascii_alphabetic() || c == '_')
            && (i == 0 || !is_identifier(chars[i - 1]));
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_identifier(chars[i]) {
            i += 1;
        }
        let name: String = chars[start..i].iter().collect();
        if !(name.starts_with("cloud_task_") || name.contains(":cloud_task_")) {
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let body = (chars.get(j) == Some(&'{')).then(|| {
            let end = chars[j..]
                .iter()
                .position(|c| *c == '}')
                .map_or(chars.len(), |k| j + k);
            chars[j + 1..end].iter().collect()
        });
        out.push((name, body));
    }
    out
}

fn selector_body(selector: &str) -> &str {
    selector
        .split_once('{')
        .map_or("", |(_, rest)| rest.trim_end().trim_end_matches('}'))
}

/// `label op "value"` matchers of a selector body.
fn matchers(body: &str) -> Vec<(String, String, String)> {
    body.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            let at = m
                .find(['=', '!'])
                .unwrap_or_else(|| panic!("no operator in matcher {m:?}"));
            let label = m[..at].trim().to_owned();
            let rest = &m[at..];
            let op_len =
                if rest.starts_with("=~") || rest.starts_with("!~") || rest.starts_with("!=") {
                    2
                } else {
                    1
                };
            let value = rest[op_len..].trim().trim_matches('"').to_owned();
            (label, rest[..op_len].to_owned(), value)
        })
        .collect()
}

/// Why an expression is not filtered the way its metrics allow, if it is not.
fn filter_problems(expr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let found = selectors(expr);
    if found.is_empty() {
        problems.push("selects no metric of the exporter".to_owned());
    }
    for (metric, body) in found {
        let applicable: &[&str] = if TASK_METRICS.contains(&metric.as_str()) {
            &FILTERS
        } else if TARGET_METRICS.contains(&metric.as_str()) {
            &FILTERS[..3]
        } else {
            problems.push(format!(
                "{metric}: not a metric this test knows the labels of"
            ));
            continue;
        };
        let filters: BTreeMap<String, (String, String)> = matchers(body.as_deref().unwrap_or(""))
            .into_iter()
            .map(|(label, op, value)| (label, (op, value)))
            .collect();
        for label in FILTERS {
            let filter = filters
                .get(label)
                .map(|(op, value)| (op.as_str(), value.as_str()));
            let wanted = format!("${label}");
            match (applicable.contains(&label), filter) {
                (true, Some(("=~", value))) if value == wanted => {}
                (true, _) => problems.push(format!("{metric}: no {label}=~\"${label}\"")),
                (false, Some(_)) => {
                    problems.push(format!("{metric} has no {label} label to filter on"))
                }
                (false, None) => {}
            }
        }
    }
    problems
}

#[test]
fn the_filter_check_catches_what_it_should() {
    let all = r#"account=~"$account", provider=~"$provider", region=~"$region""#;
    let task = format!(r#"{all}, instance_id=~"$instance_id", task_type=~"$task_type""#);
    assert!(
        filter_problems(&format!(
            "sum(cloud_task_tasks{{status=\"running\", {task}}})"
        ))
        .is_empty()
    );
    assert!(filter_problems(&format!("cloud_task_up{{{all}}} == 0")).is_empty());
    assert_eq!(
        filter_problems(&format!("cloud_task_tasks{{{all}}}")),
        [
            "cloud_task_tasks: no instance_id=~\"$instance_id\"",
            "cloud_task_tasks: no task_type=~\"$task_type\""
        ]
    );
    assert_eq!(
        filter_problems("rate(cloud_task_finished_total[5m])").len(),
        5,
        "a bare metric name is filtered by nothing"
    );
    assert_eq!(
        filter_problems(&format!("cloud_task_up{{{task}}}")),
        [
            "cloud_task_up has no instance_id label to filter on",
            "cloud_task_up has no task_type label to filter on"
        ]
    );
    assert_eq!(
        filter_problems(&format!(
            "cloud_task_tasks{{{}}}",
            task.replace("=~\"$region\"", "=\"ap-guangzhou\"")
        )),
        ["cloud_task_tasks: no region=~\"$region\""]
    );
    assert_eq!(
        filter_problems("vector(0)"),
        ["selects no metric of the exporter"]
    );
}

#[test]
fn every_query_filters_by_every_variable_its_metrics_have() {
    let dashboard = monitoring::dashboard();
    let queries = monitoring::panel_queries(&dashboard);
    assert!(queries.len() >= 20, "{} queries", queries.len());
    let problems: Vec<String> = queries
        .iter()
        .flat_map(|query| {
            filter_problems(&query.expr)
                .into_iter()
                .map(move |problem| {
                    format!("panel {:?} query {}: {problem}", query.panel, query.ref_id)
                })
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The unit a query's values call for, when it is clear from the query.
fn expected_unit(expr: &str) -> Option<&'static str> {
    if expr.contains("progress_ratio") || expr.contains(") / ") {
        Some("percentunit")
    } else if expr.contains("histogram_quantile(")
        || expr.contains("time() -")
        || expr.contains("_seconds{")
        || expr.contains("_seconds_total{")
    {
        Some("s")
    } else {
        None
    }
}

/// The unit shown for the values of one target: a table's column override, else the panel's.
fn unit_of(panel: &Value, target: &Value, targets: usize) -> String {
    let defaults = panel["fieldConfig"]["defaults"]["unit"]
        .as_str()
        .unwrap_or_default();
    if panel["type"] != "table" {
        return defaults.to_owned();
    }
    let value_field = if targets == 1 {
        "Value".to_owned()
    } else {
        format!("Value #{}", target["refId"].as_str().unwrap_or_default())
    };
    let column = panel["transformations"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|t| t["options"]["renameByName"][&value_field].as_str())
        .unwrap_or(&value_field);
    panel["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["matcher"]["id"] == "byName" && o["matcher"]["options"] == column)
        .flat_map(|o| o["properties"].as_array().cloned().unwrap_or_default())
        .find(|p| p["id"] == "unit")
        .and_then(|p| p["value"].as_str().map(str::to_owned))
        .unwrap_or_else(|| defaults.to_owned())
}

#[test]
fn every_panel_has_units_readable_legends_and_its_own_place() {
    let dashboard = monitoring::dashboard();
    let mut ids = BTreeSet::new();
    let mut cells: BTreeMap<(i64, i64), String> = BTreeMap::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(
            ids.insert(panel["id"].as_i64().expect("numeric id")),
            "{title}: id reused"
        );
        let grid = &panel["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| grid[k].as_i64().expect("gridPos"));
        assert!(x >= 0 && w > 0 && x + w <= 24 && h > 0, "{title}: {grid}");
        for row in y..y + h {
            for column in x..x + w {
                if let Some(other) = cells.insert((row, column), title.to_owned()) {
                    panic!("{title} overlaps {other}");
                }
            }
        }
    }
    let panels = monitoring::panels(&dashboard);
    assert!(panels.len() >= 20, "{} panels", panels.len());
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default();
        let kind = panel["type"].as_str().unwrap_or_default();
        assert!(!title.is_empty() && panel["description"].as_str().is_some_and(|d| d.len() > 20));
        let targets = panel["targets"].as_array().map_or(&[][..], Vec::as_slice);
        assert!(!targets.is_empty(), "{title}: no query");
        let refs: BTreeSet<&str> = targets.iter().filter_map(|t| t["refId"].as_str()).collect();
        assert_eq!(refs.len(), targets.len(), "{title}: refIds must be unique");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            let legend = target["legendFormat"].as_str().unwrap_or_default();
            if matches!(kind, "timeseries" | "state-timeline") {
                assert!(
                    !legend.is_empty() && legend != "__auto" && legend.contains("{{"),
                    "{title}: legendFormat {legend:?} should name the series by their labels"
                );
            }
            if kind == "heatmap" {
                assert_eq!(target["format"], "heatmap", "{title}");
                assert_eq!(
                    panel["options"]["yAxis"]["unit"], "s",
                    "{title}: bucket bounds are seconds"
                );
                continue;
            }
            let unit = unit_of(panel, target, targets.len());
            assert!(!unit.is_empty(), "{title}: no unit");
            if let Some(expected) = expected_unit(expr) {
                assert_eq!(unit, expected, "{title}: unit for {expr}");
            }
        }
    }
}
