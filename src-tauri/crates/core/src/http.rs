//! The one HTTP client Signet uses to talk to identity providers (DESIGN.md §6).
//!
//! Every request has a connect timeout and a total timeout, every response body is capped, and redirects
//! are never followed (the token endpoint must not be redirected, and Dex never redirects discovery or
//! JWKS). The provider's own CA (`ca_file` / `ca_data`) is added to the system roots.

use std::io::Read;
use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

/// Limits for one provider's client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub max_body_bytes: usize,
    /// Extra trusted roots (PEM, may hold several certificates).
    pub ca_pem: Option<Vec<u8>>,
    /// Skip TLS verification: only for a cluster configured with `insecure_skip_tls_verify`.
    pub insecure: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_body_bytes: 1024 * 1024,
            ca_pem: None,
            insecure: false,
        }
    }
}

/// Why a request to the identity provider failed before an HTTP answer arrived.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("invalid CA certificate: {0}")]
    BadCa(String),
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    #[error("{url} did not answer within {seconds}s")]
    Timeout { url: String, seconds: u64 },
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error(
        "TLS to {url} failed: {detail} (if the provider uses a private CA, set ca_file or ca_data)"
    )]
    Tls { url: String, detail: String },
    #[error("the answer from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("request to {url} failed: {detail}")]
    Other { url: String, detail: String },
}

/// A blocking HTTP client with Signet's limits; implements openidconnect's `SyncHttpClient`.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::blocking::Client,
    options: HttpOptions,
}

impl HttpClient {
    pub fn new(options: HttpOptions) -> Result<HttpClient, HttpError> {
        let mut builder = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| HttpError::BadCa(e.to_string()))?;
            if certs.is_empty() {
                return Err(HttpError::BadCa(
                    "no certificate found in the PEM data".into(),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if options.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let inner = builder.build().map_err(|e| HttpError::Client(chain(&e)))?;
        Ok(HttpClient { inner, options })
    }

    /// Sends one request and reads at most `max_body_bytes` of the answer.
    pub fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        let response = self
            .inner
            .request(parts.method, &url)
            .headers(parts.headers)
            .body(body)
            .send()
            .map_err(|e| self.classify(&url, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let limit = self.options.max_body_bytes;
        let mut body = Vec::new();
        response
            .take(limit as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::TimedOut || chain(&e).contains("timed out") {
                    HttpError::Timeout {
                        url: url.clone(),
                        seconds: self.options.timeout.as_secs(),
                    }
                } else {
                    HttpError::Other {
                        url: url.clone(),
                        detail: chain(&e),
                    }
                }
            })?;
        if body.len() > limit {
            return Err(HttpError::TooLarge { url, limit });
        }
        tracing::debug!(%url, status = status.as_u16(), bytes = body.len(), "idp answered");
        let mut out = http::Response::builder().status(status);
        if let Some(h) = out.headers_mut() {
            *h = headers;
        }
        out.body(body).map_err(|e| HttpError::Other {
            url,
            detail: e.to_string(),
        })
    }

    /// `GET url` with the same limits (a team catalog download, `doctor`'s look at an issuer).
    pub fn get(&self, url: &str) -> Result<HttpResponse, HttpError> {
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(url)
            .body(Vec::new())
            .map_err(|e| HttpError::Other {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
        self.send(request)
    }

    fn classify(&self, url: &str, e: &reqwest::Error) -> HttpError {
        let detail = chain(e);
        let url = url.to_string();
        if e.is_timeout() {
            HttpError::Timeout {
                url,
                seconds: if e.is_connect() {
                    self.options.connect_timeout.as_secs()
                } else {
                    self.options.timeout.as_secs()
                },
            }
        } else if detail.contains("certificate")
            || detail.contains("UnknownIssuer")
            || detail.contains("tls")
        {
            HttpError::Tls { url, detail }
        } else if e.is_connect() {
            HttpError::Connect { url, detail }
        } else {
            HttpError::Other { url, detail }
        }
    }
}

impl openidconnect::SyncHttpClient for HttpClient {
    type Error = HttpError;

    fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.send(request)
    }
}

/// An error and its sources on one line (reqwest hides the useful part in the source chain).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
