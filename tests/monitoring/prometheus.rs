//! Running a real Prometheus in a test: its processes, killed however the test ends, a free
//! port for it, and its HTTP API.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The processes the test started, killed when it ends, however it ends.
#[derive(Default)]
pub struct Processes(Vec<(&'static str, Child, PathBuf)>);

impl Processes {
    pub fn start(&mut self, name: &'static str, command: &mut Command, log: PathBuf) {
        let out = File::create(&log).expect("create a log file in the temp dir");
        let err = out.try_clone().expect("clone the log file handle");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.0.push((name, child, log));
    }

    /// The end of each process's log, for failure messages.
    pub fn logs(&self) -> String {
        self.0
            .iter()
            .map(|(name, _, log)| {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(15)..].join("\n");
                format!("--- {name} log (last lines) ---\n{tail}\n")
            })
            .collect()
    }
}

impl Processes {
    /// Sleeps a moment before the next try, or says the deadline has passed. A process that
    /// has exited (Prometheus rejecting a rule file, say) fails the test at once.
    pub async fn try_again(&mut self, deadline: Instant) -> bool {
        let exited: Vec<String> = self
            .0
            .iter_mut()
            .filter_map(|(name, child, _)| {
                let status = child.try_wait().ok()??;
                Some(format!("{name} exited ({status})"))
            })
            .collect();
        assert!(exited.is_empty(), "{}\n{}", exited.join("; "), self.logs());
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        true
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port that was free a moment ago (Prometheus cannot be told to pick one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral loopback port")
        .port()
}

pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

impl Api {
    pub async fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .query(params)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let body = response
            .text()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let json: Value =
            serde_json::from_str(&body).map_err(|e| format!("GET {path}: {e}: {body}"))?;
        if json["status"] != "success" {
            return Err(format!("{}: {}", json["errorType"], json["error"]));
        }
        Ok(json["data"].clone())
    }

    /// The samples of an instant query, or Prometheus's error (a parse error among them).
    pub async fn query(&self, expr: &str) -> Result<Vec<f64>, String> {
        let data = self.get("/api/v1/query", &[("query", expr)]).await?;
        let values = match data["resultType"].as_str() {
            Some("vector") => data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|sample| sample["value"][1].clone())
                .collect(),
            Some("scalar") => vec![data["result"][1].clone()],
            other => return Err(format!("unexpected result type {other:?}")),
        };
        Ok(values
            .iter()
            .map(|value| match value.as_str() {
                Some("+Inf") => f64::INFINITY,
                Some("-Inf") => f64::NEG_INFINITY,
                Some(text) => text.parse().unwrap_or(f64::NAN),
                None => f64::NAN,
            })
            .collect())
    }

    pub async fn ready(&self) -> bool {
        let url = format!("{}/-/ready", self.base);
        matches!(self.client.get(url).send().await, Ok(r) if r.status().is_success())
    }
}
