//! Fetching one time range of one target: pages in parallel through the rate limiter,
//! retries with backoff, and never past the deadline.

use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use governor::clock::Clock;
use tokio::time::{Instant, timeout_at};

use super::window::TaskSet;
use super::{Target, log_once, retryable};
use crate::providers::{ApiError, ApiRequest, ApiResponse, Outcome, Page, PageQuery, TimeWindow};
use crate::task::Task;

/// At most this many pages of one target in flight; the rate limiter spaces them anyway.
const MAX_PARALLEL_PAGES: usize = 16;
/// Attempts per page: the first and up to three retries.
const MAX_ATTEMPTS: u32 = 4;
/// Backoff before retry n (from 0) is a random time up to `min(CAP, BASE * 2^n)`.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// "Full jitter": spreads the retries of many clients instead of having them all come back
/// at once.
fn backoff(retry: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(retry))
        .min(BACKOFF_CAP);
    ceiling.mul_f64(fastrand::f64())
}

impl Target {
    /// Every wanted task that started in `window`: the first page says how many there are,
    /// the others are fetched concurrently. Any page failing fails the whole range.
    pub(super) async fn fetch_window(
        &self,
        window: TimeWindow,
        deadline: Instant,
    ) -> Result<TaskSet, ApiError> {
        let limit = self.provider.max_page_size();
        let first = self.fetch_page(window, 0, limit, deadline).await?;
        let mut total = first.total;
        let first_read = first.tasks.len() as u64 + first.skipped;
        // Sized once for the whole answer: no growing (and briefly doubling) as pages come.
        let mut tasks = TaskSet::with_capacity(usize::try_from(total).unwrap_or(0).min(1 << 20));
        self.keep_wanted(&mut tasks, first.tasks);
        if first_read == 0 {
            // An empty first page ends the walk even if the total promised more.
            return Ok(tasks);
        }
        let step = u64::from(limit);
        let mut next = step;
        // Tasks that start during the sweep can raise the total: fetch until no page says
        // there is more than has been asked for.
        while next < total {
            let offsets: Vec<u64> = (next..total).step_by(step as usize).collect();
            next = offsets.last().map_or(next, |last| last + step);
            let mut pages = futures_util::stream::iter(offsets)
                .map(|offset| self.fetch_page(window, offset, limit, deadline))
                .buffer_unordered(MAX_PARALLEL_PAGES);
            while let Some(page) = pages.next().await {
                let page = page?;
                total = total.max(page.total);
                self.keep_wanted(&mut tasks, page.tasks);
            }
        }
        Ok(tasks)
    }

    fn keep_wanted(&self, set: &mut TaskSet, tasks: Vec<Task>) {
        for task in tasks.into_iter().filter(|t| self.wanted(t)) {
            set.insert(task);
        }
    }

    /// One page, retried while the error is worth retrying and the deadline allows.
    async fn fetch_page(
        &self,
        window: TimeWindow,
        offset: u64,
        limit: u32,
        deadline: Instant,
    ) -> Result<Page, ApiError> {
        let mut retry = 0;
        loop {
            match self.attempt(window, offset, limit, deadline).await {
                Err(error) if retryable(&error) && retry + 1 < MAX_ATTEMPTS => {
                    let pause = backoff(retry);
                    if Instant::now() + pause >= deadline {
                        return Err(error);
                    }
                    tracing::debug!(
                        account = %self.labels.account,
                        provider = %self.labels.provider,
                        region = %self.labels.region,
                        outcome = %error.outcome(),
                        retry_in_ms = pause.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(pause).await;
                    retry += 1;
                }
                result => return result,
            }
        }
    }

    /// Waits for the limiter, unless the wait would pass the deadline. The time waited is
    /// counted either way.
    async fn wait_for_limiter(&self, deadline: Instant) -> Result<(), ApiError> {
        let started = Instant::now();
        let result = loop {
            match self.limiter.check() {
                Ok(()) => break Ok(()),
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.limiter.clock().now());
                    if Instant::now() + wait >= deadline {
                        break Err(ApiError::Timeout);
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        };
        self.metrics
            .rate_limit_wait(&self.labels, started.elapsed().as_secs_f64());
        result
    }

    /// One request: limiter, sign, send, parse; counted by outcome.
    async fn attempt(
        &self,
        window: TimeWindow,
        offset: u64,
        limit: u32,
        deadline: Instant,
    ) -> Result<Page, ApiError> {
        self.wait_for_limiter(deadline).await?;
        let request = self.provider.build_request(&PageQuery {
            region: &self.labels.region,
            endpoint: &self.endpoint,
            credentials: &self.credentials,
            window,
            offset,
            limit,
            now: Utc::now(),
        })?;
        let sent = Instant::now();
        let result = match timeout_at(deadline, send(&self.client, request)).await {
            Err(_) => Err(ApiError::Timeout),
            Ok(Err(error)) => Err(error),
            Ok(Ok(response)) => self.provider.parse_response(&ApiResponse {
                status: response.status,
                request_id: response.request_id.as_deref(),
                body: &response.body,
            }),
        };
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(error) => error.outcome(),
        };
        self.metrics
            .api_request(&self.labels, outcome, sent.elapsed().as_secs_f64());
        if let Ok(page) = &result {
            if page.skipped > 0 {
                self.metrics.skipped_entries(&self.labels, page.skipped);
            }
            for note in &page.notes {
                log_once(self.provider.kind(), note, page.request_id.as_deref());
            }
        }
        result
    }
}

struct RawResponse {
    status: u16,
    request_id: Option<String>,
    body: bytes::Bytes,
}

async fn send(client: &reqwest::Client, request: ApiRequest) -> Result<RawResponse, ApiError> {
    let mut builder = client.request(request.method, request.url);
    for (name, value) in request.headers {
        // reqwest writes Host from the URL, the same value that was signed.
        if name != "Host" {
            builder = builder.header(name, value);
        }
    }
    let response = builder
        .body(request.body)
        .send()
        .await
        .map_err(network_error)?;
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.map_err(network_error)?;
    Ok(RawResponse {
        status,
        request_id,
        body,
    })
}

/// reqwest's message plus its causes, which say what actually went wrong (refused, DNS, TLS).
fn network_error(error: reqwest::Error) -> ApiError {
    if error.is_timeout() {
        return ApiError::Timeout;
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ApiError::Network(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_full_jitter() {
        for retry in 0..10 {
            let ceiling = (BACKOFF_BASE * 2u32.pow(retry)).min(BACKOFF_CAP);
            for _ in 0..50 {
                assert!(backoff(retry) <= ceiling);
            }
        }
        // Jitter: not always the same.
        let samples: std::collections::HashSet<_> = (0..20).map(|_| backoff(3)).collect();
        assert!(samples.len() > 1);
    }
}
