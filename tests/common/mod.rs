//! Helpers for tests that run the exporter and the simulated cloud over loopback.
#![allow(dead_code)]

pub mod daemon;
pub mod upstream;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use cloud_task_exporter::config::Config;
use cloud_task_exporter::exporter::{ConfigSource, Exporter};
use cloud_task_exporter::server;
use cloud_task_exporter::sweep::Shard;

/// Starts the exporter for `yaml` on an ephemeral loopback port; it stops with the runtime.
pub async fn start_exporter(yaml: &str) -> SocketAddr {
    start_exporter_with(yaml, server::Limits::default()).await
}

/// [`start_exporter`] with the server's limits set.
pub async fn start_exporter_with(yaml: &str, limits: server::Limits) -> SocketAddr {
    start_exporter_in(yaml, limits, Shard::ALL).await
}

/// [`start_exporter`] serving one shard of the targets.
pub async fn start_exporter_sharded(yaml: &str, shard: Shard) -> SocketAddr {
    start_exporter_in(yaml, server::Limits::default(), shard).await
}

async fn start_exporter_in(yaml: &str, limits: server::Limits, shard: Shard) -> SocketAddr {
    let config = Config::parse(yaml).unwrap_or_else(|e| panic!("test config: {e}\n{yaml}"));
    let source = ConfigSource::Fixed {
        config,
        description: "test".into(),
    };
    let exporter = Exporter::start(source, None, "/metrics".into(), shard).expect("engine");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(
        listener,
        Arc::new(exporter),
        limits,
        std::future::pending(),
    ));
    addr
}

/// GETs `/metrics` as curl would (text format) and returns the body.
pub async fn scrape(addr: SocketAddr) -> String {
    scrape_with(addr, &[]).await
}

pub async fn scrape_with(addr: SocketAddr, headers: &[(&str, &str)]) -> String {
    let client = reqwest::Client::new();
    let mut request = client.get(format!("http://{addr}/metrics"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// One sample of the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the text exposition format (the subset the exporter writes).
pub fn parse(exposition: &str) -> Vec<Sample> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line has a value");
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value in {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => (name.to_owned(), parse_labels(rest.trim_end_matches('}'))),
            };
            Sample {
                name,
                labels,
                value,
            }
        })
        .collect()
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label value is quoted in {text}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => {}
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(name.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// The samples named `name` whose labels include all of `labels`.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The value of the one sample matching, panicking if there is not exactly one.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(samples, name, labels);
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:#?}");
    found[0].value
}

/// Runs `promtool check metrics` on an exposition. Without promtool the check is skipped,
/// except under `CI=true`, where it fails.
pub fn promtool_check_metrics(exposition: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("promtool is required under CI=true (apt-get install prometheus): {e}")
        }
        Err(e) => {
            eprintln!("skipping promtool check metrics: {e} (apt-get install prometheus)");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
