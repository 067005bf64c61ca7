//! What every adapter shares: how an SDK error is described and classified, backoff, and
//! per-region clients.

use std::time::Duration;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// One failed API call, described for people and for the coverage ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// The operation as IAM names it, e.g. `ec2:DescribeSecurityGroups`.
    pub operation: String,
    /// AWS's error code, or `timeout`, `dispatch`, `response`.
    pub code: String,
    /// AWS's message, or the transport's.
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} from `{}`", self.code, self.operation)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Error codes AWS uses for throttling (the SDK's own list plus the tagging API's).
pub const THROTTLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "LimitExceededException",
    "ProvisionedThroughputExceededException",
];

/// Whether an error code means "slow down and try again".
pub fn is_throttle(code: &str) -> bool {
    THROTTLE_CODES.contains(&code)
}

/// Whether an error code means a transient server fault.
pub fn is_transient(code: &str) -> bool {
    matches!(
        code,
        "InternalServiceException"
            | "InternalServiceError"
            | "InternalFailure"
            | "InternalError"
            | "InternalException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalServerError"
            | "InternalServerException"
    )
}

/// Describes an SDK error. Never includes request bodies (they may hold tag values or secrets).
pub fn failure<E, R>(
    operation: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> ApiFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let (code, message, retryable) = match e {
        SdkError::TimeoutError(_) => (
            "timeout".to_string(),
            "the call timed out".to_string(),
            true,
        ),
        SdkError::DispatchFailure(d) => (
            "dispatch".to_string(),
            if d.is_timeout() {
                "timed out connecting".to_string()
            } else if d.is_io() {
                "I/O error sending the request".to_string()
            } else {
                "could not send the request".to_string()
            },
            true,
        ),
        SdkError::ResponseError(_) => (
            "response".to_string(),
            "the response could not be read".to_string(),
            true,
        ),
        SdkError::ConstructionFailure(_) => (
            "construction".to_string(),
            "the request could not be built".to_string(),
            false,
        ),
        _ => {
            let code = e.code().unwrap_or("unknown").to_string();
            let retryable = is_throttle(&code) || is_transient(&code);
            let message = match e.message() {
                Some(m) => m.to_string(),
                None if e.code().is_none() => {
                    // An answer the SDK could not read: say what, briefly (never the body).
                    let full = aws_smithy_types::error::display::DisplayErrorContext(e).to_string();
                    let cut = full.find(" (").unwrap_or(full.len()).min(300);
                    full.chars().take(cut).collect()
                }
                None => String::new(),
            };
            (code, message, retryable)
        }
    };
    ApiFailure {
        operation: operation.to_string(),
        code,
        message,
        retryable,
    }
}

/// Backoff for retries the adapters do themselves (throttles the SDK cannot see, e.g. inside a
/// 200 `FailedResourcesMap`): full jitter on `base * 2^attempt`, capped.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first delay's upper bound.
    pub base: Duration,
    /// The cap on any delay.
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        // Cloud Custodian's tagging retry: 1.5 s doubling, jittered; we cap lower and try 6 times.
        Backoff {
            base: Duration::from_millis(1500),
            cap: Duration::from_secs(60),
            max_attempts: 6,
        }
    }
}

impl Backoff {
    /// Quick backoff for tests.
    pub fn fast() -> Backoff {
        Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
            max_attempts: 6,
        }
    }
    /// The delay before retry number `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let top = exp.min(self.cap);
        let ms = top.as_millis().max(1) as u64;
        Duration::from_millis(rand::random_range(ms / 2..=ms))
    }
}

/// Reads the backoff from `ASSETWARDEN_AWS_BACKOFF_MS` (base, for tests and impatient users),
/// else the default.
pub fn backoff_from_env() -> Backoff {
    match std::env::var("ASSETWARDEN_AWS_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(ms) => Backoff {
            base: Duration::from_millis(ms.max(1)),
            cap: Duration::from_millis(ms.max(1) * 32),
            max_attempts: 6,
        },
        None => Backoff::default(),
    }
}

/// The partition of an account's ARN (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The account and partition the credentials belong to (`sts:GetCallerIdentity`).
pub async fn caller_account(sdk: &aws_config::SdkConfig) -> Result<(String, String), ApiFailure> {
    let sts = aws_sdk_sts::Client::new(sdk);
    match sts.get_caller_identity().send().await {
        Ok(o) => {
            let account = o.account().unwrap_or_default().to_string();
            let partition = o
                .arn()
                .and_then(|a| a.split(':').nth(1))
                .unwrap_or("aws")
                .to_string();
            Ok((account, partition))
        }
        Err(e) => Err(failure("sts:GetCallerIdentity", &e)),
    }
}
