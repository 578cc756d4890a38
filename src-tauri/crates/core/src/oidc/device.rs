//! The device authorization grant (RFC 8628): starting it, polling for the tokens, and the bounds Signet
//! puts on the provider's answer.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use openidconnect::core::CoreDeviceAuthorizationResponse;
use openidconnect::{DeviceAuthorizationUrl, RequestTokenError, Scope};
use url::Url;

use super::{DeviceCode, DexTokenResponse, OidcError, OidcProvider, TokenSet};

impl OidcProvider {
    /// Starts the device grant (RFC 8628).
    pub fn begin_device(
        &self,
        audiences: &[String],
    ) -> Result<(DeviceCode, CoreDeviceAuthorizationResponse), OidcError> {
        let url = self.device_url()?;
        let client = self.client().set_device_authorization_url(url);
        let status = Cell::new(0u16);
        let mut request = client.exchange_device_code();
        for scope in self.scopes(audiences) {
            request = request.add_scope(Scope::new(scope));
        }
        let details: CoreDeviceAuthorizationResponse = request
            .request(&self.recording(&status))
            .map_err(|e| match e {
                RequestTokenError::Request(h) => OidcError::Http(h),
                RequestTokenError::ServerResponse(r) => OidcError::Rejected {
                    status: status.get(),
                    error: r.error().as_ref().to_string(),
                    description: r.error_description().cloned(),
                },
                other => OidcError::BadResponse(other.to_string()),
            })?;
        let details = bounded_device(details)?;
        let code = DeviceCode {
            verification_uri: details.verification_uri().to_string(),
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|u| u.secret().to_string()),
            user_code: details.user_code().secret().to_string(),
            expires_in: details.expires_in(),
            interval: details.interval(),
        };
        Ok((code, details))
    }

    /// Polls the token endpoint until the device sign-in is approved, denied, expired or cancelled,
    /// honouring `interval` and `slow_down` (each `slow_down` adds 5 s, RFC 8628 §3.5). Once `cancel` is
    /// set no further poll is sent and the wait between two polls ends early.
    pub fn finish_device(
        &self,
        details: &CoreDeviceAuthorizationResponse,
        audiences: &[String],
        sleep: impl Fn(Duration),
        cancel: &DeviceCancel,
    ) -> Result<TokenSet, OidcError> {
        let client = self
            .client()
            .set_device_authorization_url(self.device_url()?);
        let status = Cell::new(0u16);
        // The poll loop checks the time before every poll: a cancelled sign-in looks expired to it, so
        // no request goes out after the cancellation.
        let now = || {
            if cancel.is_cancelled() {
                DateTime::<Utc>::MAX_UTC
            } else {
                Utc::now()
            }
        };
        let wait = |interval: Duration| {
            let until = Instant::now() + interval;
            while !cancel.is_cancelled() {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                sleep(left.min(CANCEL_CHECK));
            }
        };
        if cancel.is_cancelled() {
            return Err(OidcError::DeviceCancelled);
        }
        let response: DexTokenResponse = client
            .exchange_device_access_token(details)
            .set_time_fn(now)
            .request(&self.recording(&status), wait, None)
            .map_err(|e| match e {
                _ if cancel.is_cancelled() => OidcError::DeviceCancelled,
                RequestTokenError::ServerResponse(r) => match r.error() {
                    openidconnect::DeviceCodeErrorResponseType::ExpiredToken => {
                        OidcError::DeviceExpired
                    }
                    openidconnect::DeviceCodeErrorResponseType::AccessDenied => {
                        OidcError::AccessDenied
                    }
                    other => OidcError::Rejected {
                        status: status.get(),
                        error: other.as_ref().to_string(),
                        description: r.error_description().cloned(),
                    },
                },
                RequestTokenError::Request(h) => OidcError::Http(h),
                other => OidcError::BadResponse(other.to_string()),
            })?;
        self.token_set(&response, None, audiences, None)
    }

    fn device_url(&self) -> Result<DeviceAuthorizationUrl, OidcError> {
        self.metadata
            .additional_metadata()
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| OidcError::DeviceUnsupported {
                issuer: self.config.issuer.clone(),
            })
    }
}

/// How often the wait between two polls looks whether the sign-in was cancelled.
const CANCEL_CHECK: Duration = Duration::from_millis(50);

/// Ends a device sign-in that waits for approval (the person cancelled it, or signed out meanwhile):
/// set from any thread, it stops the polling before its next request. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct DeviceCancel(Arc<AtomicBool>);

impl DeviceCancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The longest a device sign-in may wait for approval, whatever `expires_in` the provider sent.
pub const DEVICE_MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The device authorization response with Signet's bounds (RFC 8628 §3.2, §3.5): polling at least every
/// 1 s apart (5 s when the provider sends no `interval`), waiting at most [`DEVICE_MAX_LIFETIME`], and
/// verification URLs that are https (http only on loopback) — they are shown and opened for the person.
pub(super) fn bounded_device(
    details: CoreDeviceAuthorizationResponse,
) -> Result<CoreDeviceAuthorizationResponse, OidcError> {
    let bad = |e: serde_json::Error| OidcError::BadResponse(format!("device authorization: {e}"));
    let mut doc = serde_json::to_value(&details).map_err(bad)?;
    for field in ["verification_uri", "verification_uri_complete"] {
        if let Some(raw) = doc.get(field).and_then(|v| v.as_str()) {
            let ok = Url::parse(raw).is_ok_and(|u| crate::config::is_secure_or_loopback(&u));
            if !ok {
                return Err(OidcError::BadResponse(format!(
                    "the device authorization's {field} must be an https URL (plain http only on a loopback address); Signet does not show or open it"
                )));
            }
        }
    }
    let interval = details.interval().as_secs().max(1);
    let expires_in = details.expires_in().min(DEVICE_MAX_LIFETIME).as_secs();
    doc["interval"] = serde_json::json!(interval);
    doc["expires_in"] = serde_json::json!(expires_in);
    serde_json::from_value(doc).map_err(bad)
}
