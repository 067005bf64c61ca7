//! Logs and tracing: `ASSETWARDEN_LOG` (e.g. `info`, `assetwarden_core=debug`) turns on spans
//! and events on stderr; with the `otlp` feature, `OTEL_EXPORTER_OTLP_ENDPOINT` also exports
//! the spans to an OpenTelemetry collector over OTLP/HTTP.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the exporter alive until the end of `main` (flushes on drop).
pub struct Guard {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the subscriber when asked to; otherwise does nothing (no output, no cost).
pub fn init() -> Guard {
    let filter = std::env::var("ASSETWARDEN_LOG")
        .ok()
        .filter(|v| !v.is_empty());
    #[cfg(feature = "otlp")]
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty());
    #[cfg(not(feature = "otlp"))]
    let endpoint: Option<String> = None;
    if filter.is_none() && endpoint.is_none() {
        return Guard {
            #[cfg(feature = "otlp")]
            provider: None,
        };
    }
    let env = EnvFilter::new(filter.unwrap_or_else(|| "info".into()));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE);
    #[cfg(feature = "otlp")]
    {
        use opentelemetry::trace::TracerProvider as _;
        let provider = endpoint.and_then(|_| {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .build()
                .ok()?;
            Some(
                opentelemetry_sdk::trace::SdkTracerProvider::builder()
                    .with_simple_exporter(exporter)
                    .with_resource(
                        opentelemetry_sdk::Resource::builder()
                            .with_service_name("assetwarden")
                            .build(),
                    )
                    .build(),
            )
        });
        let otel = provider
            .as_ref()
            .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("assetwarden")));
        let _ = tracing_subscriber::registry()
            .with(env)
            .with(fmt)
            .with(otel)
            .try_init();
        Guard { provider }
    }
    #[cfg(not(feature = "otlp"))]
    {
        let _ = endpoint;
        let _ = tracing_subscriber::registry()
            .with(env)
            .with(fmt)
            .try_init();
        Guard {}
    }
}
