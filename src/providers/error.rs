//! What can go wrong with one API request, and the `outcome` label it is counted under.

/// The `outcome` label of `cloud_task_api_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    Throttled,
    AuthError,
    ClientError,
    ServerError,
    Timeout,
    NetworkError,
    BadResponse,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Throttled,
        Outcome::AuthError,
        Outcome::ClientError,
        Outcome::ServerError,
        Outcome::Timeout,
        Outcome::NetworkError,
        Outcome::BadResponse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Throttled => "throttled",
            Outcome::AuthError => "auth_error",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::Timeout => "timeout",
            Outcome::NetworkError => "network_error",
            Outcome::BadResponse => "bad_response",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed API request. Messages name what failed and carry the provider's request id, which
/// is what the provider's support asks for; they never carry credentials.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The provider answered with an error of its own.
    #[error("{code}: {message} (HTTP {http_status}, request id {})", request_id.as_deref().unwrap_or("none"))]
    Provider {
        outcome: Outcome,
        code: String,
        message: String,
        http_status: u16,
        request_id: Option<String>,
    },
    #[error("malformed response: {detail} (request id {})", request_id.as_deref().unwrap_or("none"))]
    BadResponse {
        detail: String,
        request_id: Option<String>,
    },
    #[error("network error: {0}")]
    Network(String),
    #[error("no answer before the scrape deadline")]
    Timeout,
    /// The request could not be built from the config (e.g. no project id for a region).
    #[error("cannot build request: {0}")]
    Request(String),
    /// The account has no valid credentials: never issued, or expired without a refresh.
    #[error("{0}")]
    Credentials(String),
    /// A service the exporter asks for credentials (metadata, STS) did not answer in time.
    #[error("{0}")]
    Slow(String),
}

impl ApiError {
    pub fn outcome(&self) -> Outcome {
        match self {
            ApiError::Provider { outcome, .. } => *outcome,
            ApiError::BadResponse { .. } => Outcome::BadResponse,
            ApiError::Network(_) => Outcome::NetworkError,
            ApiError::Timeout => Outcome::Timeout,
            ApiError::Request(_) => Outcome::ClientError,
            ApiError::Credentials(_) => Outcome::AuthError,
            ApiError::Slow(_) => Outcome::Timeout,
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            ApiError::Provider { request_id, .. } | ApiError::BadResponse { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    pub fn bad_response(detail: impl Into<String>, request_id: Option<String>) -> Self {
        ApiError::BadResponse {
            detail: detail.into(),
            request_id,
        }
    }

    /// The outcome an HTTP status implies when the body says nothing more useful.
    pub fn outcome_of_http_status(status: u16) -> Outcome {
        match status {
            401 | 403 => Outcome::AuthError,
            429 => Outcome::Throttled,
            500..=599 => Outcome::ServerError,
            _ => Outcome::ClientError,
        }
    }
}
