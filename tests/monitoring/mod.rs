//! The Grafana dashboard and the Prometheus rule files under `dashboards/`, read as data for the
//! tests that check them: panels and their queries, template variables, rules, and the rule
//! that Prometheus's own tools are skipped locally when missing but required under `CI=true`.
#![allow(dead_code)]

pub mod prometheus;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

pub const DASHBOARD: &str = "dashboards/cloud-task-exporter.json";
pub const RULE_FILES: [&str; 2] = ["dashboards/alerts.yml", "dashboards/recording-rules.yml"];
pub const RULE_TESTS: [&str; 2] = [
    "tests/rules/alerts_test.yml",
    "tests/rules/recording_test.yml",
];

/// The filter variables, in the order they chain: each one's values are narrowed by the
/// ones before it.
pub const FILTERS: [&str; 5] = ["account", "provider", "region", "instance_id", "task_type"];

/// What the e2e test puts in place of Grafana's interval variables: about what Grafana would
/// pick for a dashboard of the last hour over a Prometheus scraping every 15 s.
const INTERVALS: [(&str, &str); 3] = [
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "1h"),
];

pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn read(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

pub fn dashboard() -> Value {
    serde_json::from_str(&read(DASHBOARD)).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"))
}

/// Every panel but the rows, including those inside collapsed rows.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"]
        .as_array()
        .expect("dashboard has panels")
    {
        if panel["type"] == "row" {
            out.extend(panel["panels"].as_array().into_iter().flatten());
        } else {
            out.push(panel);
        }
    }
    out
}

/// One PromQL query of a panel.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub panel: String,
    pub ref_id: String,
    pub expr: String,
}

pub fn panel_queries(dashboard: &Value) -> Vec<PanelQuery> {
    panels(dashboard)
        .into_iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or("(untitled)").to_owned();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |target| PanelQuery {
                    panel: title.clone(),
                    ref_id: target["refId"].as_str().unwrap_or("?").to_owned(),
                    expr: target["expr"].as_str().unwrap_or_default().to_owned(),
                })
        })
        .collect()
}

pub fn variables(dashboard: &Value) -> &[Value] {
    dashboard["templating"]["list"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// The query of a query variable, whichever of Grafana's two shapes it is stored in.
pub fn variable_query(variable: &Value) -> &str {
    variable["query"]["query"]
        .as_str()
        .or_else(|| variable["query"].as_str())
        .unwrap_or_default()
}

/// `label_values(selector, label)` as (selector, label).
pub fn label_values(query: &str) -> Option<(&str, &str)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    Some((selector.trim(), label.trim()))
}

/// A query as Grafana would send it with every filter at "All" (`.*`).
pub fn substitute(expr: &str) -> String {
    let mut out = expr.to_owned();
    for (variable, value) in INTERVALS {
        out = out.replace(variable, value);
    }
    for name in FILTERS {
        out = out
            .replace(&format!("${{{name}}}"), ".*")
            .replace(&format!("${name}"), ".*");
    }
    out
}

#[derive(Debug, Deserialize)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
pub struct Rule {
    pub alert: Option<String>,
    pub record: Option<String>,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    pub fn name(&self) -> &str {
        self.alert
            .as_deref()
            .or(self.record.as_deref())
            .unwrap_or("(unnamed)")
    }
}

pub fn rule_file(relative: &str) -> RuleFile {
    serde_saphyr::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every rule of every rule file.
pub fn rules() -> Vec<Rule> {
    RULE_FILES
        .iter()
        .flat_map(|file| rule_file(file).groups)
        .flat_map(|group| group.rules)
        .collect()
}

/// Whether a Prometheus tool can be run. When it cannot, the calling test is skipped with a
/// message, except under `CI=true`, where it fails: CI must not pass by skipping.
pub fn tool_available(name: &str) -> bool {
    let why = match Command::new(name).arg("--version").output() {
        Ok(output) if output.status.success() => return true,
        Ok(output) => format!("`{name} --version` exited with {}", output.status),
        Err(e) => format!("cannot run {name}: {e}"),
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}; {name} is required under CI=true (apt-get install prometheus)");
    }
    eprintln!("skipping: {why} (apt-get install prometheus)");
    false
}
