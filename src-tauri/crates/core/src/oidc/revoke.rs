//! Revoking a refresh token (RFC 7009) at sign-out, when discovery lists a revocation endpoint.

use super::{OidcError, OidcProvider};
use crate::secret::Secret;

impl OidcProvider {
    /// Revokes a refresh token (RFC 7009) when discovery lists a revocation endpoint; returns whether it did.
    ///
    /// Sent by hand rather than through `openidconnect`, which refuses a plain-http revocation URL even on
    /// loopback, where the config allows http issuers.
    pub fn revoke(&self, refresh_token: &Secret) -> Result<bool, OidcError> {
        let Some(url) = self
            .metadata
            .additional_metadata()
            .revocation_endpoint
            .clone()
        else {
            return Ok(false);
        };
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", refresh_token.expose())
            .append_pair("token_type_hint", "refresh_token")
            .append_pair("client_id", &self.config.client_id);
        if let Some(secret) = &self.config.client_secret {
            form.append_pair("client_secret", secret.expose());
        }
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(form.finish().into_bytes())
            .map_err(|e| OidcError::BadResponse(e.to_string()))?;
        let response = self.http.send(request)?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(true),
            500.. => Err(OidcError::ServerError {
                status,
                error: None,
            }),
            _ => {
                let body: serde_json::Value =
                    serde_json::from_slice(response.body()).unwrap_or_default();
                Err(OidcError::Rejected {
                    status,
                    error: body["error"].as_str().unwrap_or("unknown").to_string(),
                    description: body["error_description"].as_str().map(String::from),
                })
            }
        }
    }
}
