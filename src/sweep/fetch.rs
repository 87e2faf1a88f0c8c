//! Fetching one time range of one target: pages in parallel through the rate limiter,
//! retries with backoff, and never past the deadline.
//!
//! Everything an answer says is checked before it is acted on: a total decides how many pages
//! are asked for only once it is known to fit what the deadline and the rate limit allow, an
//! answer is read up to [`crate::http::MAX_BODY_BYTES`] and no further, every request has its own timeout,
//! and parsing runs on a blocking thread so that a large page cannot stall the runtime.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use governor::clock::Clock;
use tokio::time::{Instant, timeout_at};

use super::Target;
use super::failure_log::log_once;
use super::window::TaskSet;
use crate::http;
use crate::providers::{ApiError, Outcome, Page, PageQuery, TimeWindow};
use crate::task::Task;

/// A request whose answer has not come this long after it was sent gives back its turn in
/// flight ([`super::MAX_IN_FLIGHT`]).
const SLOW_ANSWER: Duration = Duration::from_secs(2);

/// At most this many pages of one target in flight; the rate limiter spaces them anyway.
const MAX_PARALLEL_PAGES: usize = 16;
/// Attempts per page: the first and up to three retries.
const MAX_ATTEMPTS: u32 = 4;
/// Backoff before retry n (from 0) is a random time up to `min(CAP, BASE * 2^n)`.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);
/// No request waits longer than this for its answer, whatever the scrape's deadline: a hung
/// API must not hold a target's sweep (and every scrape waiting on it) for long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most tasks one target's window may hold: a total beyond it is not believed.
pub const MAX_WINDOW_TASKS: u64 = 1_000_000;
/// A fetched set is sized for at most this many tasks up front, whatever the total says.
const MAX_PRESIZE: usize = 1 << 14;
/// A task that starts later than this after now is an odd entry, skipped: it would otherwise
/// pin the incremental watermark in the future. Clocks may differ a little.
pub const FUTURE_TOLERANCE: Duration = Duration::from_secs(600);

/// "Full jitter": spreads the retries of many clients instead of having them all come back
/// at once.
fn backoff(retry: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(retry))
        .min(BACKOFF_CAP);
    ceiling.mul_f64(fastrand::f64())
}

impl Target {
    /// Every wanted task that started in `window`. When the first page says how many there
    /// are, the others are fetched concurrently; when the API does not say, one after another
    /// until a page is not full. Any page failing fails the whole range.
    pub(super) async fn fetch_window(
        &self,
        window: TimeWindow,
        deadline: Instant,
    ) -> Result<TaskSet, ApiError> {
        let limit = self.provider.max_page_size();
        let first = self.fetch_page(window, 0, limit, deadline).await?;
        let first_read = entries_read(&first);
        let total = first.total;
        // Sized once for a usual answer; a larger one grows the set as its pages come.
        let presize = total
            .and_then(|t| usize::try_from(t).ok())
            .map_or(MAX_PRESIZE, |t| t.min(MAX_PRESIZE));
        let mut tasks = TaskSet::with_capacity(presize);
        self.keep_wanted(&mut tasks, first.tasks);
        if first_read == 0 {
            // An empty first page ends the walk even if the total promised more.
            return Ok(tasks);
        }
        match total {
            Some(total) => {
                self.fetch_by_total(window, total, &mut tasks, deadline)
                    .await?
            }
            None => {
                self.fetch_until_short(window, first_read, &mut tasks, deadline)
                    .await?
            }
        }
        Ok(tasks)
    }

    /// The pages after the first when the API states a total: concurrently, by offset.
    async fn fetch_by_total(
        &self,
        window: TimeWindow,
        mut total: u64,
        tasks: &mut TaskSet,
        deadline: Instant,
    ) -> Result<(), ApiError> {
        let limit = self.provider.max_page_size();
        let step = u64::from(limit.max(1));
        let mut next = step;
        // Tasks that start during the sweep can raise the total: fetch until no page says
        // there is more than has been asked for. The offsets are made as they are needed,
        // never collected: a total is only a number from outside.
        while next < total {
            let pages = (total - next).div_ceil(step);
            let offsets = (0..pages).map(move |page| next + page * step);
            next += pages * step;
            let mut pages = futures_util::stream::iter(offsets)
                .map(|offset| self.fetch_page(window, offset, limit, deadline))
                .buffer_unordered(MAX_PARALLEL_PAGES);
            while let Some(page) = pages.next().await {
                let page = page?;
                total = total.max(page.total.unwrap_or_default());
                self.keep_wanted(tasks, page.tasks);
            }
        }
        Ok(())
    }

    /// The pages after the first when the API states no total (DDS may leave it out): one
    /// after another until a page is not full. Bounded like a stated total: never past
    /// [`MAX_WINDOW_TASKS`], and the limiter refuses to wait past the deadline.
    async fn fetch_until_short(
        &self,
        window: TimeWindow,
        first_read: u64,
        tasks: &mut TaskSet,
        deadline: Instant,
    ) -> Result<(), ApiError> {
        let limit = self.provider.max_page_size();
        let mut read = first_read;
        let mut offset = 0;
        while read >= u64::from(limit) {
            offset += u64::from(limit);
            if offset >= MAX_WINDOW_TASKS {
                return Err(ApiError::bad_response(
                    format!(
                        "the answers state no total and are still full after {offset} tasks, \
                         more than the {MAX_WINDOW_TASKS} one target's window may hold"
                    ),
                    None,
                ));
            }
            let page = self.fetch_page(window, offset, limit, deadline).await?;
            read = entries_read(&page);
            self.keep_wanted(tasks, page.tasks);
        }
        Ok(())
    }

    /// Refuses a page whose total the window cannot hold, or whose remaining pages (from this
    /// one on) the rate limit cannot fetch before the deadline: asking for them would spend
    /// the account's quota on a sweep that cannot finish. The total is only a number from
    /// outside until it has passed here.
    fn check_total(
        &self,
        page: Page,
        offset: u64,
        limit: u32,
        deadline: Instant,
    ) -> Result<Page, ApiError> {
        let refuse = |detail: String| Err(ApiError::bad_response(detail, page.request_id.clone()));
        let Some(total) = page.total else {
            return Ok(page);
        };
        if total > MAX_WINDOW_TASKS {
            return refuse(format!(
                "the answer's total of {total} tasks is more than the {MAX_WINDOW_TASKS} one target's window may hold"
            ));
        }
        let read = entries_read(&page);
        if read > 0 && read < u64::from(limit) && offset + read < total {
            // Paging on by `limit` would skip what lies between this page's end and the
            // next offset: the API caps its pages lower than it says (or than was guessed),
            // or reads `offset` otherwise than the exporter writes it.
            return refuse(format!(
                "asked for {limit} tasks from offset {offset} and got {read} of a total of {total}: \
                 the API pages otherwise than the exporter assumes, which would skip tasks"
            ));
        }
        if offset > 0 && read == 0 && offset < total {
            return refuse(format!(
                "asked for {limit} tasks from offset {offset} and got none of a total of {total}: \
                 the API pages otherwise than the exporter assumes, which would skip tasks"
            ));
        }
        let pages = total
            .saturating_sub(offset)
            .div_ceil(u64::from(limit.max(1)));
        let left = deadline.saturating_duration_since(Instant::now());
        // The first page is already in; each other one needs a turn of the limiter.
        let affordable = 1.0 + (left.as_secs_f64() * self.rate_limit).floor();
        if pages as f64 > affordable {
            return refuse(format!(
                "the answer's total of {total} tasks needs {pages} pages, more than the {affordable} \
                 that {} requests/s allow in the {:.1} s left before the deadline; raise \
                 rate_limit or the scrape timeout, or shorten the lookback",
                self.rate_limit,
                left.as_secs_f64()
            ));
        }
        Ok(page)
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
                        account = %self.id.account,
                        provider = self.id.kind,
                        region = %self.id.region,
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

    /// Waits for a turn in flight and then for the limiter, unless the wait would pass the
    /// deadline. The time waited is counted either way; the turn is the caller's until it
    /// drops it.
    async fn wait_for_limiter(
        &self,
        deadline: Instant,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        let started = Instant::now();
        let result = async {
            // First a turn in flight (first come, first served), then the limiter's turn.
            let turn = match timeout_at(deadline, self.in_flight.acquire()).await {
                Ok(Ok(turn)) => turn,
                // The semaphore is never closed; a deadline passed is a timeout.
                Ok(Err(_)) | Err(_) => return Err(ApiError::Timeout),
            };
            loop {
                match self.limiter.check() {
                    Ok(()) => return Ok(turn),
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(self.limiter.clock().now());
                        if Instant::now() + wait >= deadline {
                            return Err(ApiError::Timeout);
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        .await;
        self.observer
            .rate_limit_wait(&self.id, started.elapsed().as_secs_f64());
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
        let issued = match self.credentials.current(deadline).await {
            Ok(issued) => issued,
            Err(error) => {
                // Counted, so that `outcome="auth_error"` says why the target is down.
                self.observer.api_request(&self.id, error.outcome(), 0.0);
                return Err(error);
            }
        };
        // Held until the answer is parsed, unless the answer is late (below).
        let mut turn = Some(self.wait_for_limiter(deadline).await?);
        let request = self.provider.build_request(&PageQuery {
            region: &self.id.region,
            endpoint: &self.endpoint,
            credentials: &issued.credentials,
            window,
            offset,
            limit,
            now: Utc::now(),
        })?;
        let sent = Instant::now();
        // Its own timeout, and never past the deadline.
        let until = deadline.min(sent + REQUEST_TIMEOUT);
        let mut exchange = std::pin::pin!(timeout_at(until, http::exchange(&self.client, request)));
        let answered = tokio::select! {
            answered = &mut exchange => answered,
            () = tokio::time::sleep(SLOW_ANSWER) => {
                // A late answer gives its turn back: hung regions must not take all of an
                // account's turns from its healthy ones (what a late answer holds meanwhile
                // is a connection and at most the body limit).
                turn = None;
                exchange.await
            }
        };
        let result = match answered {
            Err(_) => Err(ApiError::Timeout),
            Ok(Err(error)) => Err(error),
            Ok(Ok(response)) => {
                let provider = self.provider;
                // Parsing a large page is CPU work: off the runtime's threads.
                tokio::task::spawn_blocking(move || {
                    provider.parse_response(&response.as_response())
                })
                .await
                .unwrap_or_else(|e| {
                    Err(ApiError::bad_response(
                        format!("reading the answer failed: {e}"),
                        None,
                    ))
                })
                .and_then(|page| self.check_total(page, offset, limit, deadline))
                .map(|page| skip_future_tasks(page, Utc::now()))
            }
        };
        // The turn ends with the parse.
        drop(turn);
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(error) => error.outcome(),
        };
        self.observer
            .api_request(&self.id, outcome, sent.elapsed().as_secs_f64());
        if let Ok(page) = &result {
            if page.skipped > 0 {
                self.observer.skipped_entries(&self.id, page.skipped);
            }
            for note in &page.notes {
                log_once(self.provider.kind(), note, page.request_id.as_deref());
            }
        }
        result
    }
}

/// How many entries of the API's list a page held: its tasks and the entries skipped.
fn entries_read(page: &Page) -> u64 {
    page.tasks.len() as u64 + page.skipped
}

/// Drops the tasks of a page that start in the future (beyond [`FUTURE_TOLERANCE`]), counting
/// each as a skipped entry with a note.
fn skip_future_tasks(mut page: Page, now: DateTime<Utc>) -> Page {
    let horizon = now + FUTURE_TOLERANCE;
    let before = page.tasks.len();
    page.tasks.retain(|task| task.start_time <= horizon);
    let skipped = before - page.tasks.len();
    if skipped > 0 {
        // One wording for every such task, so that it is logged once, not once per task.
        page.notes.push(format!(
            "skipped tasks that start more than {} min in the future",
            FUTURE_TOLERANCE.as_secs() / 60
        ));
    }
    page.skipped += skipped as u64;
    page
}

/// Whether an error is worth another attempt: the provider asked us to slow down, failed on
/// its side, or the network did.
fn retryable(error: &ApiError) -> bool {
    matches!(
        error.outcome(),
        Outcome::Throttled | Outcome::ServerError | Outcome::NetworkError
    )
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
