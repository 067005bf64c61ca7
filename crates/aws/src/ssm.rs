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
        self.get_versioned(name).await.map(|(v, _)| v)
    }

    /// Resolves a secret reference: `ssm:/path/to/parameter` is read from Parameter Store;
    /// anything else is the value itself.
    pub async fn resolve(&self, value: &str) -> Result<String, Error> {
        match value.strip_prefix("ssm:") {
            Some(name) => self.get(name).await,
            None => Ok(value.to_string()),
        }
    }

    /// A parameter's value and version.
    pub async fn get_versioned(&self, name: &str) -> Result<(String, i64), Error> {
        match self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => {
                let p = out
                    .parameter
                    .ok_or_else(|| Error::Empty(name.to_string()))?;
                let v = p.value.filter(|v| !v.is_empty());
                Ok((v.ok_or_else(|| Error::Empty(name.to_string()))?, p.version))
            }
            Err(e) => Err(aws_error(name, &e)),
        }
    }

    /// A policy document kept in Parameter Store. `name` ending in `/` is a path: every
    /// parameter under it (recursively, SecureStrings decrypted, every page followed, empty
    /// pages included) is one top-level section of the document, named by the rest of its name
    /// (`/gov/policy/classification` holds the `classification` section). Otherwise `name` is
    /// one parameter holding the whole document (YAML or JSON). Errors are located as
    /// `ssm:NAME:line:column`. The versions read are recorded as the policy's source
    /// (`ssm:NAME@VERSION`), which every report carries. Fails closed: a page that cannot be
    /// read fails the whole load.
    pub async fn policy(&self, name: &str) -> Result<Policy, Error> {
        if name.ends_with('/') {
            return self.policy_from_path(name).await;
        }
        let (text, version) = self.get_versioned(name).await?;
        let mut p = Policy::from_str_named(&text, &format!("ssm:{name}"), &catalog())?;
        p.source_name = format!("ssm:{name}@{version}");
        Ok(p)
    }

    /// Every parameter under a path: (name, value, version), all pages.
    pub async fn by_path(&self, path: &str) -> Result<Vec<(String, String, i64)>, Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .get_parameters_by_path()
                .path(path.trim_end_matches('/'))
                .recursive(true)
                .with_decryption(true)
                .max_results(10)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| aws_error(path, &e))?;
            for p in page.parameters() {
                if let (Some(n), Some(v)) = (p.name(), p.value()) {
                    out.push((n.to_string(), v.to_string(), p.version()));
                }
            }
            // "Best effort": a page may be empty and still carry a token.
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn policy_from_path(&self, path: &str) -> Result<Policy, Error> {
        let mut params = self.by_path(path).await?;
        params.sort();
        if params.is_empty() {
            return Err(Error::Empty(path.to_string()));
        }
        let prefix = path.trim_end_matches('/');
        let mut doc = String::new();
        let mut versions = Vec::new();
        let mut has_version = false;
        for (name, value, version) in &params {
            let key = name
                .strip_prefix(prefix)
                .unwrap_or(name)
                .trim_start_matches('/')
                .to_string();
            if key.is_empty() || key.contains('/') {
                return Err(Error::Aws {
                    name: name.clone(),
                    code: "PolicyLayout".into(),
                    message: format!(
                        "parameters under `{path}` must be named after a policy section (e.g. `{prefix}/classification`)"
                    ),
                    retryable: false,
                });
            }
            // Each section is checked on its own first, so a syntax error names its parameter.
            if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(value) {
                let (line, col) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((1, 1));
                return Err(Error::Policy(assetwarden_core::PolicyError {
                    diagnostics: vec![assetwarden_core::error::PolicyDiagnostic {
                        location: Some(assetwarden_core::error::Location {
                            file: format!("ssm:{name}"),
                            line,
                            column: col,
                        }),
                        path: key.clone(),
                        message: format!("not YAML ({e})"),
                    }],
                }));
            }
            has_version |= key == "version";
            versions.push(format!("{key}@{version}"));
            doc.push_str(&key);
            doc.push_str(":\n");
            for line in value.lines() {
                doc.push_str("  ");
                doc.push_str(line);
                doc.push('\n');
            }
        }
        if !has_version {
            doc.insert_str(0, "version: 1\n");
        }
        let mut p = Policy::from_str_named(&doc, &format!("ssm:{path}"), &catalog())?;
        p.source_name = format!("ssm:{path} ({})", versions.join(", "));
        Ok(p)
    }
}

fn aws_error<E, R>(name: &str, e: &aws_sdk_ssm::error::SdkError<E, R>) -> Error
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata,
{
    use aws_sdk_ssm::error::ProvideErrorMetadata;
    let retryable = matches!(
        e,
        aws_sdk_ssm::error::SdkError::TimeoutError(_)
            | aws_sdk_ssm::error::SdkError::DispatchFailure(_)
    ) || e
        .code()
        .is_some_and(|c| c.contains("Throttl") || c == "InternalServerError");
    Error::Aws {
        name: name.to_string(),
        code: e.code().unwrap_or("unknown").to_string(),
        message: e.message().unwrap_or("no message").to_string(),
        retryable,
    }
}
