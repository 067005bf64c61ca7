//! Counts every HTTP attempt the AWS SDK makes (retries included), by service, region and
//! outcome, for the metrics (`assetwarden_aws_api_calls_total`).
//!
//! The count sits in the HTTP client, below the SDK's retry loop, so a throttled call that the
//! SDK retried and that finally succeeded shows as one `throttled` and one `ok` attempt. The
//! service and region come from the SigV4 credential scope of the signed request, so the count
//! is right whatever the endpoint (AWS, a VPC endpoint, moto). Error replies are read (they are
//! small) to tell throttling from other client errors, and handed on unchanged.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use assetwarden_core::report::ApiCallCount;
use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;

use crate::util::is_throttle;

type Key = (String, String, &'static str);

/// Counters shared by every client built from an instrumented [`SdkConfig`].
#[derive(Clone, Default)]
pub struct ApiMetrics {
    counts: Arc<Mutex<BTreeMap<Key, u64>>>,
}

impl std::fmt::Debug for ApiMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiMetrics")
            .field("calls", &self.counts().iter().map(|c| c.calls).sum::<u64>())
            .finish()
    }
}

impl ApiMetrics {
    /// Empty counters.
    pub fn new() -> ApiMetrics {
        ApiMetrics::default()
    }

    /// The same configuration with its HTTP client wrapped so that every attempt is counted
    /// here. The caller's own HTTP client is kept; without one, the SDK's default (rustls,
    /// proxy settings from the environment) is built.
    pub fn instrument(&self, sdk: &SdkConfig) -> SdkConfig {
        let inner = sdk.http_client().unwrap_or_else(default_client);
        sdk.to_builder()
            .http_client(CountingClient {
                inner,
                metrics: self.clone(),
            })
            .build()
    }

    /// The counts so far, sorted.
    pub fn counts(&self) -> Vec<ApiCallCount> {
        let map = match self.counts.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        map.into_iter()
            .map(|((service, region, outcome), calls)| ApiCallCount {
                service,
                region,
                outcome: outcome.to_string(),
                calls,
            })
            .collect()
    }

    /// The counts so far, and zero again (a long-lived process reporting per run).
    pub fn take(&self) -> Vec<ApiCallCount> {
        let out = self.counts();
        match self.counts.lock() {
            Ok(mut m) => m.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
        out
    }

    fn add(&self, service: &str, region: &str, outcome: &'static str) {
        let mut m = match self.counts.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        *m.entry((service.to_string(), region.to_string(), outcome))
            .or_default() += 1;
    }
}

/// The SDK's own default HTTPS client: rustls with aws-lc, the proxy from the environment.
fn default_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut b = ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        b.set_connector_settings(settings.cloned());
        if let Some(c) = components {
            b.set_sleep_impl(c.sleep_impl());
        }
        b.set_proxy_config(Some(ProxyConfig::from_env()));
        b.build()
    })
}

#[derive(Debug)]
struct CountingClient {
    inner: SharedHttpClient,
    metrics: ApiMetrics,
}

impl HttpClient for CountingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            metrics: self.metrics.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    metrics: ApiMetrics,
}

/// Error replies larger than this are not read for their code (AWS's are a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (service, region) = request
            .headers()
            .get("authorization")
            .and_then(credential_scope)
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let fut = self.inner.call(request);
        let metrics = self.metrics.clone();
        HttpConnectorFuture::new(async move {
            let mut resp = match fut.await {
                Ok(r) => r,
                Err(e) => {
                    metrics.add(&service, &region, "transport_error");
                    return Err(e);
                }
            };
            let status = resp.status().as_u16();
            if status < 400 {
                metrics.add(&service, &region, "ok");
                return Ok(resp);
            }
            let error_type = resp.headers().get("x-amzn-errortype").map(str::to_string);
            let small = resp
                .headers()
                .get("content-length")
                .map(|v| v.parse::<usize>().is_ok_and(|n| n <= MAX_ERROR_BODY))
                .unwrap_or(true);
            let body = if small {
                let b = resp.take_body();
                match ByteStream::new(b).collect().await {
                    Ok(bytes) => {
                        let bytes = bytes.into_bytes();
                        *resp.body_mut() = SdkBody::from(bytes.clone());
                        Some(bytes)
                    }
                    Err(e) => {
                        metrics.add(&service, &region, "transport_error");
                        return Err(ConnectorError::io(e.into()));
                    }
                }
            } else {
                None
            };
            let outcome = classify(status, error_type.as_deref(), body.as_deref());
            metrics.add(&service, &region, outcome);
            Ok(resp)
        })
    }
}

/// (service, region) from a SigV4 `Authorization` header's credential scope:
/// `AWS4-HMAC-SHA256 Credential=AKID/20261127/eu-west-1/ec2/aws4_request, ...`.
fn credential_scope(auth: &str) -> Option<(String, String)> {
    let start = auth.find("Credential=")? + "Credential=".len();
    let scope = auth[start..].split([',', ' ']).next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, "aws4_request"] => Some((service.to_string(), region.to_string())),
        _ => None,
    }
}

/// The outcome of an error reply: `throttled` when its code (header, JSON or XML body) is a
/// throttling one or the status is 429; otherwise by status class.
pub(crate) fn classify(status: u16, error_type: Option<&str>, body: Option<&[u8]>) -> &'static str {
    if status == 429 {
        return "throttled";
    }
    let mut codes: Vec<String> = Vec::new();
    if let Some(t) = error_type {
        codes.push(t.split(':').next().unwrap_or(t).to_string());
    }
    if let Some(b) = body {
        codes.extend(body_codes(b));
    }
    if codes.iter().any(|c| is_throttle(c)) {
        "throttled"
    } else if status >= 500 {
        "server_error"
    } else {
        "client_error"
    }
}

/// Error codes in a reply body: JSON `__type`/`code`/`Code` (namespace before `#` dropped), or
/// XML `<Code>`.
fn body_codes(b: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(b);
    let mut out = Vec::new();
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(&text) {
        for k in ["__type", "code", "Code"] {
            if let Some(v) = m.get(k).and_then(|v| v.as_str()) {
                out.push(v.rsplit('#').next().unwrap_or(v).to_string());
            }
        }
        return out;
    }
    let mut rest = text.as_ref();
    while let Some(i) = rest.find("<Code>") {
        let after = &rest[i + "<Code>".len()..];
        match after.find("</Code>") {
            Some(j) => {
                out.push(after[..j].trim().to_string());
                rest = &after[j..];
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_from_the_authorization_header() {
        let h = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/eu-west-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(
            credential_scope(h),
            Some(("ec2".to_string(), "eu-west-1".to_string()))
        );
        assert_eq!(credential_scope("Bearer x"), None);
        assert_eq!(credential_scope("AWS4-HMAC-SHA256 Credential=a/b/c"), None);
    }

    #[test]
    fn throttling_is_told_apart_from_other_errors() {
        assert_eq!(classify(429, None, None), "throttled");
        let xml = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow</Message></Error></Errors></Response>";
        assert_eq!(classify(503, None, Some(xml)), "throttled");
        let xml = b"<Error><Code>AccessDenied</Code></Error>";
        assert_eq!(classify(403, None, Some(xml)), "client_error");
        let json = br#"{"__type":"com.amazonaws.tagging#ThrottledException","Message":"x"}"#;
        assert_eq!(classify(400, None, Some(json)), "throttled");
        assert_eq!(
            classify(400, Some("ThrottlingException:http://internal"), None),
            "throttled"
        );
        assert_eq!(
            classify(400, None, Some(b"{\"code\":\"ValidationException\"}")),
            "client_error"
        );
        assert_eq!(
            classify(
                500,
                None,
                Some(b"<Error><Code>InternalError</Code></Error>")
            ),
            "server_error"
        );
        assert_eq!(
            classify(502, None, Some(b"not a body we know")),
            "server_error"
        );
    }

    #[test]
    fn counts_add_up_by_key() {
        let m = ApiMetrics::new();
        m.add("ec2", "eu-west-1", "ok");
        m.add("ec2", "eu-west-1", "ok");
        m.add("ec2", "eu-west-1", "throttled");
        m.add("s3", "us-east-1", "ok");
        let c = m.counts();
        assert_eq!(c.len(), 3);
        assert_eq!(
            (c[0].service.as_str(), c[0].outcome.as_str(), c[0].calls),
            ("ec2", "ok", 2)
        );
        assert_eq!((c[1].outcome.as_str(), c[1].calls), ("throttled", 1));
        assert!(format!("{m:?}").contains("calls: 4"));
        assert_eq!(m.take().len(), 3);
        assert!(m.counts().is_empty());
    }
}
