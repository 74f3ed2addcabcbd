//! Riding through API server outages. Every request the client sends is retried with capped
//! exponential backoff and jitter when the server cannot be reached (connection refused or
//! reset, a timeout) or answers 429, 500, 502, 503 or 504: server-side apply, get, list and
//! delete are idempotent, a watch is re-established by its caller, and a create that did land
//! comes back as 409, which every create here handles. Retrying starts only once the server
//! has answered in this run (a wrong address fails at once), and stops when the budget, the
//! command's deadline, runs out. One line is printed per outage, one when it ends.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{Request, Response};
use kube::client::Body;
use rand::Rng;
use tower::BoxError;
use tower::retry::Policy;

/// Seconds a request may keep retrying.
static BUDGET: AtomicU64 = AtomicU64::new(120);
/// The server has answered at least once in this run.
static SEEN: AtomicBool = AtomicBool::new(false);
/// When the current outage began, if one is going on.
static OUTAGE: Mutex<Option<Instant>> = Mutex::new(None);

/// Sets how long a request may keep retrying (the command's deadline).
pub(crate) fn set_budget(d: Duration) {
    BUDGET.store(d.as_secs().max(1), Ordering::Relaxed);
}

/// The retry policy of one request.
#[derive(Clone, Default)]
pub(crate) struct Transient {
    first_failure: Option<Instant>,
    attempt: u32,
}

/// Why a result is worth retrying, in words; `None` when it is not.
fn transient<Res>(result: &Result<Response<Res>, BoxError>) -> Option<String> {
    match result {
        Ok(r) => {
            let code = r.status().as_u16();
            matches!(code, 429 | 500 | 502 | 503 | 504).then(|| {
                format!(
                    "it answered {code} {}",
                    r.status().canonical_reason().unwrap_or("")
                )
            })
        }
        Err(e) => Some(root_cause(e.as_ref())),
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The delay before retry `attempt` (1-based): 250 ms doubling to 5 s, with up to 50 % jitter.
pub(crate) fn delay(attempt: u32) -> Duration {
    let base = Duration::from_millis(250)
        .saturating_mul(1 << attempt.saturating_sub(1).min(5))
        .min(Duration::from_secs(5));
    let jitter = rand::rng().random_range(0.0..0.5);
    base.mul_f64(1.0 + jitter)
}

impl<Res> Policy<Request<Body>, Response<Res>, BoxError> for Transient {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Request<Body>,
        result: &mut Result<Response<Res>, BoxError>,
    ) -> Option<Self::Future> {
        let Some(why) = transient(result) else {
            SEEN.store(true, Ordering::Relaxed);
            if let Ok(mut o) = OUTAGE.lock()
                && let Some(since) = o.take()
            {
                eprintln!(
                    "API server answered again after {:.1}s; carrying on",
                    since.elapsed().as_secs_f64()
                );
            }
            return None;
        };
        if !SEEN.load(Ordering::Relaxed) {
            return None;
        }
        let budget = Duration::from_secs(BUDGET.load(Ordering::Relaxed));
        let first = *self.first_failure.get_or_insert_with(Instant::now);
        if first.elapsed() >= budget {
            return None;
        }
        if let Ok(mut o) = OUTAGE.lock()
            && o.is_none()
        {
            *o = Some(Instant::now());
            eprintln!(
                "API server unreachable ({why}); retrying for up to {}s",
                budget.as_secs()
            );
        }
        self.attempt += 1;
        Some(tokio::time::sleep(delay(self.attempt)))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        let body = req.body().try_clone()?;
        let mut out = Request::builder()
            .method(req.method().clone())
            .uri(req.uri().clone())
            .version(req.version())
            .body(body)
            .ok()?;
        *out.headers_mut() = req.headers().clone();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        let d: Vec<Duration> = (1..=10).map(delay).collect();
        assert!(d[0] >= Duration::from_millis(250) && d[0] <= Duration::from_millis(375));
        assert!(d[2] >= Duration::from_secs(1));
        assert!(d.iter().all(|x| *x <= Duration::from_millis(7500)));
    }

    #[test]
    fn only_outages_and_overload_are_retried() {
        let answer = |code: u16| -> Result<Response<()>, BoxError> {
            Ok(Response::builder().status(code).body(()).unwrap())
        };
        for code in [429, 500, 502, 503, 504] {
            assert!(transient(&answer(code)).is_some(), "{code}");
        }
        for code in [200, 201, 400, 401, 403, 404, 409, 422] {
            assert!(transient(&answer(code)).is_none(), "{code}");
        }
        let refused: Result<Response<()>, BoxError> = Err(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        assert_eq!(transient(&refused).as_deref(), Some("connection refused"));
    }
}
