//! The few Kubernetes API calls the switcher makes with the person's own token: is the server there
//! (TLS probe of `/version`), which namespaces may they pick, and who does the server say they are
//! (SelfSubjectReview). kubectl does everything else; this module must never write to a cluster.
//!
//! Requests use the cluster's CA exactly as its kubeconfig entry does (`ca_file`, `ca_data`, or
//! `insecure_skip_tls_verify`), Signet's timeouts and body limit, and no redirects.

use serde::Deserialize;

use crate::config::ClusterConfig;
use crate::http::{HttpClient, HttpError, HttpOptions};
use crate::secret::Secret;

/// Why a call to an API server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterApiError {
    #[error(
        "cannot read the CA of cluster '{cluster}': {source}; point ca_file at a PEM file or set ca_data"
    )]
    Ca {
        cluster: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the API server refused the token (HTTP 401): sign in again")]
    Unauthorized,
    #[error(
        "{what} failed: HTTP {status} from the API server{detail}; check the server URL, or ask the cluster's admins"
    )]
    Status {
        what: &'static str,
        status: u16,
        detail: String,
    },
    #[error(
        "the answer to {what} is not what a Kubernetes API server sends ({detail}); check the server URL"
    )]
    Unreadable { what: &'static str, detail: String },
}

impl ClusterApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ClusterApiError::Ca { .. } => "cluster.ca_unreadable",
            ClusterApiError::Http(HttpError::Tls { .. }) => "cluster.tls",
            ClusterApiError::Http(_) => "cluster.unreachable",
            ClusterApiError::Unauthorized => "cluster.unauthorized",
            ClusterApiError::Status { .. } => "cluster.request_failed",
            ClusterApiError::Unreadable { .. } => "cluster.bad_answer",
        }
    }
}

/// What `/version` said without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `gitVersion`, when the server shows it anonymously.
    pub version: Option<String>,
    /// The server wants credentials for `/version` (TLS worked).
    pub auth_required: bool,
}

/// Namespaces the person may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    Listed(Vec<String>),
    /// HTTP 403: RBAC does not let them list namespaces.
    Forbidden,
}

/// The user the API server authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub username: String,
    pub groups: Vec<String>,
}

/// A client for one API server.
#[derive(Debug)]
pub struct ClusterApi {
    http: HttpClient,
    server: String,
}

impl ClusterApi {
    pub fn new(cluster: &ClusterConfig) -> Result<ClusterApi, ClusterApiError> {
        let ca_pem = cluster.ca_pem().map_err(|source| ClusterApiError::Ca {
            cluster: cluster.name.clone(),
            source,
        })?;
        let http = HttpClient::new(HttpOptions {
            ca_pem,
            insecure: cluster.insecure_skip_tls_verify,
            ..HttpOptions::default()
        })?;
        Ok(ClusterApi {
            http,
            server: cluster.server.trim_end_matches('/').to_owned(),
        })
    }

    /// `GET /version` without credentials: proves TLS and that a Kubernetes API server answers.
    pub fn probe(&self) -> Result<Probe, ClusterApiError> {
        let response = self.send("/version", None, "GET /version")?;
        match response.status().as_u16() {
            200 => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Version {
                    git_version: String,
                }
                let version: Version = parse(response.body(), "GET /version")?;
                Ok(Probe {
                    version: Some(version.git_version),
                    auth_required: false,
                })
            }
            401 | 403 => Ok(Probe {
                version: None,
                auth_required: true,
            }),
            status => Err(status_error("GET /version", status, response.body())),
        }
    }

    /// `GET /api/v1/namespaces` with the person's token.
    pub fn namespaces(&self, token: &Secret) -> Result<Namespaces, ClusterApiError> {
        const WHAT: &str = "listing namespaces";
        let response = self.send("/api/v1/namespaces", Some(token), WHAT)?;
        match response.status().as_u16() {
            200 => {
                #[derive(Deserialize)]
                struct List {
                    #[serde(default)]
                    items: Vec<Item>,
                }
                #[derive(Deserialize)]
                struct Item {
                    metadata: Metadata,
                }
                #[derive(Deserialize)]
                struct Metadata {
                    name: String,
                }
                let list: List = parse(response.body(), WHAT)?;
                let mut names: Vec<String> =
                    list.items.into_iter().map(|i| i.metadata.name).collect();
                names.sort();
                Ok(Namespaces::Listed(names))
            }
            401 => Err(ClusterApiError::Unauthorized),
            403 => Ok(Namespaces::Forbidden),
            status => Err(status_error(WHAT, status, response.body())),
        }
    }

    /// `POST …/selfsubjectreviews` (authentication.k8s.io/v1, Kubernetes 1.28+; v1beta1 on 1.27).
    pub fn review(&self, token: &Secret) -> Result<Review, ClusterApiError> {
        const WHAT: &str = "SelfSubjectReview";
        let mut last = None;
        for version in ["v1", "v1beta1"] {
            let body = serde_json::json!({
                "apiVersion": format!("authentication.k8s.io/{version}"),
                "kind": "SelfSubjectReview",
            });
            let path = format!("/apis/authentication.k8s.io/{version}/selfsubjectreviews");
            let response = self.request(
                http::Method::POST,
                &path,
                Some(token),
                body.to_string(),
                WHAT,
            )?;
            match response.status().as_u16() {
                200 | 201 => {
                    #[derive(Deserialize)]
                    struct ReviewBody {
                        status: Status,
                    }
                    #[derive(Deserialize)]
                    #[serde(rename_all = "camelCase")]
                    struct Status {
                        user_info: UserInfo,
                    }
                    #[derive(Deserialize)]
                    struct UserInfo {
                        #[serde(default)]
                        username: String,
                        #[serde(default)]
                        groups: Vec<String>,
                    }
                    let review: ReviewBody = parse(response.body(), WHAT)?;
                    return Ok(Review {
                        username: review.status.user_info.username,
                        groups: review.status.user_info.groups,
                    });
                }
                401 => return Err(ClusterApiError::Unauthorized),
                // An older server without this version: try the next.
                404 => last = Some(status_error(WHAT, 404, response.body())),
                status => return Err(status_error(WHAT, status, response.body())),
            }
        }
        Err(last.unwrap_or(ClusterApiError::Unreadable {
            what: WHAT,
            detail: "no SelfSubjectReview API".into(),
        }))
    }

    fn send(
        &self,
        path: &str,
        token: Option<&Secret>,
        what: &'static str,
    ) -> Result<http::Response<Vec<u8>>, ClusterApiError> {
        self.request(http::Method::GET, path, token, String::new(), what)
    }

    fn request(
        &self,
        method: http::Method,
        path: &str,
        token: Option<&Secret>,
        body: String,
        what: &'static str,
    ) -> Result<http::Response<Vec<u8>>, ClusterApiError> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server))
            .header(http::header::ACCEPT, "application/json");
        if !body.is_empty() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        if let Some(token) = token {
            request = request.header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        }
        let request = request
            .body(body.into_bytes())
            .map_err(|e| ClusterApiError::Unreadable {
                what,
                detail: e.to_string(),
            })?;
        Ok(self.http.send(request)?)
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &'static str,
) -> Result<T, ClusterApiError> {
    serde_json::from_slice(body).map_err(|e| ClusterApiError::Unreadable {
        what,
        detail: e.to_string(),
    })
}

/// Quotes a Kubernetes `Status` message when the server sent one (never a token: requests carry it in a
/// header the server does not echo).
fn status_error(what: &'static str, status: u16, body: &[u8]) -> ClusterApiError {
    #[derive(Deserialize)]
    struct StatusBody {
        message: Option<String>,
    }
    let detail = serde_json::from_slice::<StatusBody>(body)
        .ok()
        .and_then(|s| s.message)
        .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    ClusterApiError::Status {
        what,
        status,
        detail,
    }
}
