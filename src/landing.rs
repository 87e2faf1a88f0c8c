//! The landing page `/`: version, config source, each target's last sweep, each account's
//! credential source and expiry, links. It shows labels, outcomes and where credentials come
//! from, never credentials.

use std::fmt::Write;

use crate::exporter::Exporter;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(exporter: &Exporter) -> String {
    let generation = exporter.current();
    let web = match exporter.web_config_file() {
        None => "plain HTTP, no authentication".to_owned(),
        Some(path) => format!(
            "{} ({}, {})",
            path.display(),
            if generation.web.tls.is_some() {
                "TLS"
            } else {
                "plain HTTP"
            },
            match generation.web.user_count() {
                0 => "no basic auth".to_owned(),
                n => format!("basic auth, {n} user(s)"),
            }
        ),
    };
    let (successful, at) = exporter.metrics().reload_status();
    let loaded_at = chrono::DateTime::from_timestamp_millis((at * 1000.0) as i64)
        .map_or_else(String::new, |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        });
    let reload = if successful {
        format!("Configuration loaded at {loaded_at}.")
    } else {
        format!(
            "The last reload FAILED (see the log); the configuration loaded at {loaded_at} is still in force."
        )
    };
    let mut rows = String::new();
    for target in generation.engine.targets() {
        let id = &target.id;
        let (when, took, outcome, tasks) = match target.last_report() {
            None => (
                "not yet (or in progress)".to_owned(),
                String::new(),
                String::new(),
                String::new(),
            ),
            Some(report) => (
                report
                    .started_at
                    .format("%Y-%m-%d %H:%M:%S UTC")
                    .to_string(),
                format!("{:.2} s", report.duration.as_secs_f64()),
                match &report.result {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => format!("{}: {e}", e.outcome()),
                },
                match &report.result {
                    Ok(snapshot) => snapshot.total.to_string(),
                    Err(_) => String::new(),
                },
            ),
        };
        let provider = target.provider();
        let api = format!("{} ({})", provider.api(), provider.cloud().signing().name());
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&id.account),
            escape(id.kind),
            escape(&id.region),
            escape(&api),
            escape(&when),
            escape(&took),
            escape(&outcome),
            escape(&tasks),
        );
    }
    let mut accounts = String::new();
    for account in generation.engine.accounts() {
        let expiry = match (account.origin().is_temporary(), account.expires_at()) {
            (false, _) => "does not expire".to_owned(),
            (true, None) => "not issued yet".to_owned(),
            (true, Some(at)) => at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        };
        let _ = write!(
            accounts,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(account.account()),
            escape(&account.origin().describe()),
            escape(&expiry),
        );
    }
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cloud-task-exporter</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style>
</head><body>
<h1>cloud-task-exporter</h1>
<p>Version {version}. Configuration: {source}. Web: {web}.{shard}</p>
<p>{reload} Reload with <code>POST /-/reload</code> or SIGHUP.</p>
<ul><li><a href="{metrics}">Metrics</a></li><li><a href="/sd">Service discovery</a> (each target, scraped at <code>/probe?target=ACCOUNT/KIND/REGION</code>)</li><li><a href="/-/healthy">Health</a></li><li><a href="/-/ready">Readiness</a></li></ul>
<h2>Targets</h2>
<table><tr><th>account</th><th>provider</th><th>region</th><th>API (signing)</th><th>last sweep</th><th>duration</th><th>outcome</th><th>tasks in window</th></tr>
{rows}</table>
<h2>Credentials</h2>
<table><tr><th>account</th><th>source</th><th>expires</th></tr>
{accounts}</table>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        shard = match exporter.shard() {
            s if s.total > 1 => format!(
                " Shard {} of {} (from 0): only the targets that hash to it.",
                s.ordinal, s.total
            ),
            _ => String::new(),
        },
        source = escape(&exporter.source().describe()),
        web = escape(&web),
        reload = escape(&reload),
        metrics = escape(&exporter.telemetry_path),
    )
}
