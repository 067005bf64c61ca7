//! SSM Parameter Store: secrets and policy documents.

use assetwarden_core::checks::catalog;
use assetwarden_core::{Policy, PolicyError};

/// Why a parameter could not be read. Never carries a parameter's value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API refused or failed.
    #[error("SSM parameter `{name}`: {code}: {message}")]
    Aws {
        /// The parameter.
        name: String,
        /// AWS's error code (`ParameterNotFound`, `AccessDeniedException`, ...).
        code: String,
        /// AWS's message.
        message: String,
        /// Whether trying again may succeed (throttling, 5xx).
        retryable: bool,
    },
    /// The parameter holds no value.
    #[error("SSM parameter `{0}` has no value")]
    Empty(String),
    /// The parameter holds an invalid policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl Error {
    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Aws {
                retryable: true,
                ..
            }
        )
    }
    /// AWS's error code, when the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Reads parameters (decrypting SecureStrings).
#[derive(Debug, Clone)]
pub struct Ssm {
    client: aws_sdk_ssm::Client,
}

impl Ssm {
    /// A reader on the caller's configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Ssm {
        Ssm {
            client: aws_sdk_ssm::Client::new(config),
        }
    }

    /// A parameter's value.
    pub async fn get(&self, name: &str) -> Result<String, Error> {
        match self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => out
                .parameter
                .and_then(|p| p.value)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::Empty(name.to_string())),
            Err(e) => {
                use aws_sdk_ssm::error::ProvideErrorMetadata;
                let retryable = matches!(
                    e,
                    aws_sdk_ssm::error::SdkError::TimeoutError(_)
                        | aws_sdk_ssm::error::SdkError::DispatchFailure(_)
                ) || e
                    .code()
                    .is_some_and(|c| c.contains("Throttl") || c == "InternalServerError");
                Err(Error::Aws {
                    name: name.to_string(),
                    code: e.code().unwrap_or("unknown").to_string(),
                    message: e.message().unwrap_or("no message").to_string(),
                    retryable,
                })
            }
        }
    }

    /// Resolves a secret reference: `ssm:/path/to/parameter` is read from Parameter Store;
    /// anything else is the value itself.
    pub async fn resolve(&self, value: &str) -> Result<String, Error> {
        match value.strip_prefix("ssm:") {
            Some(name) => self.get(name).await,
            None => Ok(value.to_string()),
        }
    }

    /// A policy document kept in a parameter (YAML or JSON); errors are located as
    /// `ssm:NAME:line:column`.
    pub async fn policy(&self, name: &str) -> Result<Policy, Error> {
        let text = self.get(name).await?;
        Ok(Policy::from_str_named(
            &text,
            &format!("ssm:{name}"),
            &catalog(),
        )?)
    }
}
