//! The dashboard and the rule files against a real Prometheus scraping the real binary in
//! `--demo` mode: the target is healthy, the rule files load and evaluate, every query of the
//! dashboard, of its variables and of the rules parses, and every panel and variable query
//! returns data from the demo within about a minute, and every registered provider kind is up
//! with tasks stored.
//!
//! Needs `prometheus` on the PATH: skipped without it, except under `CI=true`, where it fails.

mod monitoring;

use monitoring::prometheus::{Api, Processes, free_port};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cloud-task-exporter");

/// The whole test, from starting the processes to the last check: 14 s on 2 idle cores, 23 to
/// 36 s on busy ones, and once 82 s on one loaded core. The rest is margin, which costs nothing
/// when all is well, since every phase ends as soon as its check passes.
const BUDGET: Duration = Duration::from_secs(150);

/// The address the exporter logs once it listens (it was given port 0).
fn exporter_address(log: &Path) -> Option<String> {
    std::fs::read_to_string(log)
        .ok()?
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|entry| entry["fields"]["address"].as_str().map(str::to_owned))
}

fn prometheus_config(exporter: &str) -> String {
    let rule_files: String = monitoring::RULE_FILES
        .iter()
        .map(|file| format!("  - {}\n", monitoring::path(file).display()))
        .collect();
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n{rule_files}\
         scrape_configs:\n  - job_name: cloud-tasks\n    static_configs:\n      - targets: ['{exporter}']\n"
    )
}

/// Data a panel can show: at least one sample that is a number. `histogram_quantile` over
/// buckets that did not move gives NaN, which Grafana shows as no value.
fn has_data(values: &[f64]) -> bool {
    values.iter().any(|value| value.is_finite())
}

/// What to query, with where it comes from.
struct Check {
    source: String,
    expr: String,
}

fn panel_checks(dashboard: &Value) -> Vec<Check> {
    monitoring::panel_queries(dashboard)
        .into_iter()
        .map(|query| Check {
            source: format!("panel {:?} query {}", query.panel, query.ref_id),
            expr: monitoring::substitute(&query.expr),
        })
        .collect()
}

fn rule_checks() -> Vec<Check> {
    monitoring::rules()
        .into_iter()
        .map(|rule| Check {
            source: format!("rule {}", rule.name()),
            expr: rule.expr,
        })
        .collect()
}

/// A `label_values()` variable: its name, the label and the selector.
type Variable = (String, String, String);

fn variable_checks(dashboard: &Value) -> Vec<Variable> {
    monitoring::variables(dashboard)
        .iter()
        .filter(|variable| variable["type"] == "query")
        .map(|variable| {
            let name = variable["name"].as_str().unwrap_or_default().to_owned();
            let query = monitoring::variable_query(variable);
            let (selector, label) = monitoring::label_values(query).unwrap_or_else(|| {
                panic!("variable {name}: not label_values(selector, label): {query}")
            });
            (name, label.to_owned(), monitoring::substitute(selector))
        })
        .collect()
}

/// Why a panel query has no data now, if it has none.
async fn panel_without_data(api: &Api, check: &Check) -> Option<String> {
    match api.query(&check.expr).await {
        Ok(values) if has_data(&values) => None,
        Ok(values) => Some(format!(
            "{}: no data ({values:?})\n    {}",
            check.source, check.expr
        )),
        Err(e) => Some(format!("{}: {e}\n    {}", check.source, check.expr)),
    }
}

/// Why a variable offers no values now, if it offers none.
async fn variable_without_values(api: &Api, (name, label, selector): &Variable) -> Option<String> {
    let values = api
        .get(
            &format!("/api/v1/label/{label}/values"),
            &[("match[]", selector)],
        )
        .await;
    let any = values
        .as_ref()
        .is_ok_and(|v| v.as_array().is_some_and(|a| !a.is_empty()));
    (!any).then(|| format!("variable {name}: no {label} values for {selector}: {values:?}"))
}

/// Every rule Prometheus has loaded, with its health and last error.
async fn loaded_rules(api: &Api) -> Vec<Value> {
    api.get("/api/v1/rules", &[])
        .await
        .map(|data| {
            data["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scraping_the_demo_has_data_for_every_panel() {
    if !monitoring::tool_available("prometheus") {
        return;
    }
    let started = Instant::now();
    let deadline = started + BUDGET;
    // Shown when the test fails (or with --nocapture): where the time went.
    let phase = |what: &str| eprintln!("{:>7.1?} {what}", started.elapsed());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut processes = Processes::default();

    let exporter_log = dir.path().join("exporter.log");
    processes.start(
        "exporter",
        Command::new(BIN)
            .args([
                "--demo",
                "--web.listen-address=127.0.0.1:0",
                "--log.format=json",
            ])
            .current_dir(dir.path()),
        exporter_log.clone(),
    );
    let exporter = loop {
        if let Some(address) = exporter_address(&exporter_log) {
            break address;
        }
        assert!(
            processes.try_again(deadline).await,
            "the exporter never said where it listens\n{}",
            processes.logs()
        );
    };

    phase("the exporter listens");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, prometheus_config(&exporter)).expect("write prometheus.yml");
    let port = free_port();
    processes.start(
        "prometheus",
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path()),
        dir.path().join("prometheus.log"),
    );
    let api = Api {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client"),
        base: format!("http://127.0.0.1:{port}"),
    };
    while !api.ready().await {
        assert!(
            processes.try_again(deadline).await,
            "Prometheus never became ready\n{}",
            processes.logs()
        );
    }

    phase("Prometheus is ready");
    let healthy = loop {
        let target = match api.get("/api/v1/targets", &[("state", "active")]).await {
            Ok(data) => data["activeTargets"][0].clone(),
            Err(e) => Value::String(e),
        };
        if target["health"] == "up" || !processes.try_again(deadline).await {
            break target;
        }
    };
    assert!(
        healthy["health"] == "up",
        "the exporter's target is not healthy: {healthy:#}\n{}",
        processes.logs()
    );
    assert_eq!(healthy["scrapeUrl"], format!("http://{exporter}/metrics"));

    phase("the exporter's target is up");
    let dashboard = monitoring::dashboard();
    let panels = panel_checks(&dashboard);
    let rules = rule_checks();
    let variables = variable_checks(&dashboard);
    assert!(panels.len() >= 20 && rules.len() >= 5 && variables.len() == 5);

    // Every expression must parse, whatever data there is yet.
    let mut errors = Vec::new();
    for check in panels.iter().chain(&rules) {
        if check.expr.contains('$') {
            errors.push(format!(
                "{}: a variable is left after substitution: {}",
                check.source, check.expr
            ));
        } else if let Err(e) = api.query(&check.expr).await {
            errors.push(format!("{}: {e}\n    {}", check.source, check.expr));
        }
    }
    assert!(
        errors.is_empty(),
        "queries Prometheus rejects:\n{}",
        errors.join("\n")
    );

    phase("every expression parses");
    // Panels over finished tasks need the demo's first failures and repeated durations. A
    // query is done once it has had data: a scrape that fails now and then on a busy machine
    // makes every series stale for a moment, which is not what this test is about.
    let mut panels_left: Vec<&Check> = panels.iter().collect();
    let mut variables_left: Vec<&Variable> = variables.iter().collect();
    let missing = loop {
        let mut missing = Vec::new();
        let mut still = Vec::new();
        for check in panels_left {
            if let Some(why) = panel_without_data(&api, check).await {
                missing.push(why);
                still.push(check);
            }
        }
        panels_left = still;
        let mut still = Vec::new();
        for variable in variables_left {
            if let Some(why) = variable_without_values(&api, variable).await {
                missing.push(why);
                still.push(variable);
            }
        }
        variables_left = still;
        if missing.is_empty() || !processes.try_again(deadline).await {
            break missing;
        }
    };
    assert!(
        missing.is_empty(),
        "after {:.0?}, these dashboard queries still have no data from the demo:\n{}\n{}",
        started.elapsed(),
        missing.join("\n"),
        processes.logs()
    );

    phase("every panel and variable has data");
    // The rule files loaded, and every rule has been evaluated without error.
    let expected = rules.len();
    let loaded = loop {
        let loaded = loaded_rules(&api).await;
        let evaluated = loaded.len() == expected
            && loaded.iter().all(|rule| {
                rule["health"] == "ok" && rule["lastError"].as_str().unwrap_or("").is_empty()
            });
        if evaluated || !processes.try_again(deadline).await {
            break (evaluated, loaded);
        }
    };
    assert!(
        loaded.0,
        "Prometheus should have loaded and evaluated the {expected} rules without error: {:#?}",
        loaded.1
    );

    phase("every rule is evaluated");
    // Every registered provider kind is in the demo, up, with tasks Prometheus has stored.
    let kinds = cloud_task_exporter::providers::names().len() as f64;
    let every_kind = [
        "count(count by (provider) (cloud_task_up == 1))",
        "count(count by (provider) (cloud_task_tasks))",
    ];
    let seen = loop {
        let mut seen = Vec::new();
        for expr in every_kind {
            seen.push((expr, api.query(expr).await.unwrap_or_default()));
        }
        let all = seen.iter().all(|(_, values)| values.as_slice() == [kinds]);
        if all || !processes.try_again(deadline).await {
            break seen;
        }
    };
    for (expr, values) in seen {
        assert_eq!(values, [kinds], "{expr}: every one of the {kinds} kinds");
    }

    eprintln!(
        "{} panel queries, {} variable queries and {} rule expressions checked in {:.1?}",
        panels.len(),
        variables.len(),
        rules.len(),
        started.elapsed()
    );
}
