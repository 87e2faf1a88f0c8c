//! cloud-task-exporter: Prometheus metrics for the asynchronous tasks of managed cloud
//! databases (backups, restores, upgrades, parameter changes, ...).
//!
//! # Modules
//!
//! - [`cli`]: the command line (`--config.file`, `--web.listen-address`, ...) and logging setup.
//! - [`config`]: the YAML config, read into spanned raw types and validated in one pass, so
//!   every error names its key, line and column; the redacted view of `--check-config`.
//! - [`cloud`]: what a cloud is: its name, an account's credentials and the keys it takes.
//! - [`secret`]: the type that holds credentials and never prints them.
//! - [`files`]: bounded reads of the files the operator names (config, secrets, certificates).
//! - [`credentials`]: where an account's credentials come from: fixed keys, the SDKs'
//!   environment variables, or temporary ones (a VM's metadata service, STS) refreshed in the
//!   background ahead of their expiry.
//! - [`signing`]: request signing, one pure module per scheme ([`signing::tc3`] for Tencent,
//!   [`signing::huawei`] for Huawei's AK/SK).
//! - [`providers`]: one file per task API and one registration table; each API is a value
//!   ([`providers::tencent::TencentApi`], [`providers::huawei::HuaweiApi`]) with its request
//!   parameters and page parser, and each cloud has one [`providers::Provider`] impl that
//!   signs page requests and parses answers into the shared task model, with no I/O.
//! - [`task`]: the provider-neutral task model and its normalised statuses.
//! - [`sweep`]: the engine: per target (account x kind x region) task windows swept
//!   incrementally, rate limiting, parallel paging, retries, deadlines, the first-sweep
//!   baseline and the deduplication of finished tasks; it reports what happens through
//!   [`sweep::Observer`] and knows nothing of labels.
//! - [`http`]: the one outbound path, to the clouds' APIs and to the credential services
//!   alike: a signed request sent, an answer of bounded size read.
//! - [`metrics`]: the engine's events and sweep reports as series (it implements the
//!   observer); long-lived counters and histograms, per-scrape gauges, OpenMetrics and
//!   text-format output.
//! - [`process`]: the standard `process_*` metrics.
//! - [`exporter`]: the configuration in force and what was built from it (the engine),
//!   swapped as a whole by a reload (SIGHUP or `POST /-/reload`), and the metrics, kept.
//! - [`server`]: the HTTP server (hyper): `/metrics`, `/-/healthy`, `/-/ready`,
//!   `/-/reload`, and [`landing`], the page at `/`; graceful shutdown.
//! - [`demo`]: `--demo`, the simulated cloud (the `cloud-task-simulator` crate in `sim/`, which
//!   the tests and benchmarks run against too) with a generated world, and a config for it.
//!
//! # The path of one scrape
//!
//! 1. [`server`] receives `GET /metrics` and sets a deadline from Prometheus's
//!    `X-Prometheus-Scrape-Timeout-Seconds` (or `scrape_timeout`) less a margin.
//! 2. [`sweep::Engine::collect`] runs every target concurrently. Each target takes its own
//!    lock, so concurrent scrapes share one sweep, and reuses a sweep younger than
//!    `min_interval`.
//! 3. A sweep asks its [`providers::Provider`] for the part of the lookback window that can
//!    still change (the whole window the first time; see [`sweep::window`]). The first page
//!    gives the total and the others are fetched in parallel; each request waits for the
//!    account's rate limiter, is signed, sent with `reqwest`, retried with backoff if the
//!    provider throttles or fails, and parsed into [`task::Task`]s. Newly finished tasks are
//!    counted once; a failure becomes `up 0`, an `outcome` count and a log line with the
//!    provider's request id.
//! 4. [`metrics::Metrics::encode`] turns the reports into the exposition: gauges from the
//!    targets that answered, counters and histograms kept across scrapes, self-metrics.

// Code that handles data from outside (answers, headers, files) must not panic on it.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod cli;
pub mod cloud;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod exporter;
pub mod files;
pub mod http;
pub mod landing;
pub mod metrics;
pub mod process;
pub mod providers;
pub mod secret;
pub mod server;
pub mod signing;
pub mod sweep;
pub mod task;
pub mod web_config;
