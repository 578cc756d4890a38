//! Where a login window may go: the redirect is caught (never loaded), plain http off loopback is
//! refused, and an IdP page that refuses embedded browsers is recognised. Pure functions of URLs.

use base64::Engine as _;
use url::Url;

use super::DISALLOWED_USERAGENT;

/// The label of a provider's `n`-th login window: `login-<provider>-<n>`. Provider names are
/// `[a-z0-9-]+`, valid in labels. Each sign-in gets a fresh label, so a window still being destroyed
/// never blocks (or cancels) the next sign-in.
pub fn window_label(provider: &str, n: u32) -> String {
    format!("login-{provider}-{n}")
}

/// What the login window does with a navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigation {
    /// An IdP (or upstream connector) page: load it.
    Allow,
    /// The redirect to our callback: cancel it and finish the sign-in with its URL.
    Capture,
    /// Anything else aimed at the reserved port, or a scheme a sign-in page has no business loading.
    Block,
    /// The IdP refuses embedded browsers: cancel, and offer `browser` mode.
    EmbeddedRefused,
}

/// Decides a login-window navigation to `url`, for a sign-in redirecting to `redirect`.
///
/// The reserved port is matched on every loopback spelling (`127.0.0.1`, `localhost`, `[::1]`), so no
/// request ever reaches it; only the exact redirect (host and path) is captured. Plain-http pages off
/// loopback are blocked.
pub fn decide(url: &Url, redirect: &Url) -> Navigation {
    let loopback = matches!(
        url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || url.host_str() == Some("localhost");
    if url.scheme() == "http" && loopback && url.port() == redirect.port() {
        return if url.host_str() == redirect.host_str() && url.path() == redirect.path() {
            Navigation::Capture
        } else {
            Navigation::Block
        };
    }
    match url.scheme() {
        // Plain http only on loopback (a local IdP, like the issuer rule): anything else could be read
        // or changed on the way.
        "http" if !loopback => Navigation::Block,
        "http" | "https" if refuses_embedded(url) => Navigation::EmbeddedRefused,
        "http" | "https" => Navigation::Allow,
        "about" if url.path() == "blank" => Navigation::Allow,
        _ => Navigation::Block,
    }
}

/// The login window's title: the provider and the host (and port) of the page it loads.
pub fn window_title(provider: &str, url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("Sign in to {provider} at {host}:{port} — Signet"),
        None => format!("Sign in to {provider} at {host} — Signet"),
    }
}

/// Whether a page says the IdP refuses embedded browsers: an `error=disallowed_useragent` parameter, or
/// Google's error page, whose `authError` parameter is base64 text naming the error.
pub fn refuses_embedded(url: &Url) -> bool {
    url.query_pairs().any(|(k, v)| {
        (k == "error" && v == DISALLOWED_USERAGENT)
            || (k == "authError" && decodes_to_disallowed(&v))
    })
}

/// Whether a page title names the refusal (Google: "Error 403: disallowed_useragent").
pub fn title_refuses_embedded(title: &str) -> bool {
    title.to_ascii_lowercase().contains(DISALLOWED_USERAGENT)
}

fn decodes_to_disallowed(value: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let value = value.trim();
    [
        STANDARD.decode(value),
        URL_SAFE.decode(value),
        STANDARD_NO_PAD.decode(value),
        URL_SAFE_NO_PAD.decode(value),
    ]
    .into_iter()
    .flatten()
    .any(|bytes| String::from_utf8_lossy(&bytes).contains(DISALLOWED_USERAGENT))
}

/// `scheme://host:port/path` — a URL without its query or fragment, for logs.
pub fn without_query(url: &Url) -> String {
    format!(
        "{}://{}{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
        url.path()
    )
}
