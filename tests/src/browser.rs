//! A tiny form-driving "browser" for sign-ins without a GUI: it follows redirects itself (so it can stop at
//! the loopback redirect), submits the first form of each page, and fills in `login`, `password` and
//! `user_code` fields. Works against the Dex stand-in and the hostile issuer.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::LOCATION;
use url::Url;

use crate::tls::TestCa;

const MAX_STEPS: usize = 25;

/// Why a browser-driven sign-in did not reach its end.
#[derive(Debug)]
pub enum BrowserError {
    /// The request itself failed (connection, TLS, timeout…).
    Http { url: String, message: String },
    /// The IdP rejected the credentials (HTTP 401, or the login form came back).
    LoginRejected { status: u16, body: String },
    /// The IdP (or the callback, for [`FormBrowser::login_and_deliver`]) answered an error status.
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// A page without a form to submit and that is not the end of the flow.
    NoForm { url: String, body: String },
    /// A redirect without a usable `Location`.
    BadRedirect { url: String, location: String },
    /// Gave up after too many requests.
    TooManySteps { last_url: String },
}

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrowserError::Http { url, message } => write!(f, "request to {url} failed: {message}"),
            BrowserError::LoginRejected { status, .. } => {
                write!(f, "the IdP rejected the credentials (HTTP {status})")
            }
            BrowserError::Status { url, status, body } => {
                write!(f, "{url} answered HTTP {status}: {}", snippet(body))
            }
            BrowserError::NoForm { url, body } => {
                write!(f, "{url} has no form to submit: {}", snippet(body))
            }
            BrowserError::BadRedirect { url, location } => {
                write!(f, "{url} redirected to unusable location {location:?}")
            }
            BrowserError::TooManySteps { last_url } => {
                write!(f, "gave up after {MAX_STEPS} requests (last: {last_url})")
            }
        }
    }
}

impl std::error::Error for BrowserError {}

fn snippet(body: &str) -> String {
    body.chars().take(400).collect()
}

/// A cookie-keeping HTTP client that signs in through HTML forms.
#[derive(Debug, Clone)]
pub struct FormBrowser {
    client: Client,
}

enum Outcome {
    /// Stopped at a redirect to a loopback URL on another origin (the app's redirect URI).
    Callback(Url),
    /// Reached the device flow's success page.
    DeviceSuccess,
}

impl FormBrowser {
    /// A browser trusting the system roots plus `ca` (if given). Each browser has its own cookie jar.
    pub fn new(ca: Option<&TestCa>) -> FormBrowser {
        let mut builder = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30));
        if let Some(ca) = ca {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).expect("parse test CA"),
            );
        }
        FormBrowser {
            client: builder.build().expect("build browser client"),
        }
    }

    /// Opens `auth_url`, signs in as `user`, and returns the URL the IdP finally redirects to: an `http`
    /// loopback URL on another origin than the IdP (normally `http://127.0.0.1:<port>/callback?code=…&state=…`,
    /// or `…?error=…` when the IdP refuses the request). That URL is not requested.
    pub fn login(&self, auth_url: &str, user: &str, password: &str) -> Result<Url, BrowserError> {
        let start = parse_url(auth_url)?;
        match self.drive(start, user, password, None)? {
            Outcome::Callback(url) => Ok(url),
            Outcome::DeviceSuccess => Err(BrowserError::NoForm {
                url: auth_url.to_string(),
                body: "device success page instead of a redirect".to_string(),
            }),
        }
    }

    /// Like [`FormBrowser::login`], then requests the callback URL as a browser would (exercising a real
    /// loopback listener) and returns its body. A non-2xx answer is `BrowserError::Status` with the body.
    pub fn login_and_deliver(
        &self,
        auth_url: &str,
        user: &str,
        password: &str,
    ) -> Result<String, BrowserError> {
        let callback = self.login(auth_url, user, password)?;
        let response = self.send(self.client.get(callback.clone()), &callback)?;
        let status = response.status();
        let body = response.text().unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            Err(BrowserError::Status {
                url: callback.to_string(),
                status: status.as_u16(),
                body,
            })
        }
    }

    /// Approves a device authorization: opens `verification_uri` (with `user_code` typed into the page), or
    /// `verification_uri_complete` when `user_code` is `None`, confirms, signs in, and expects the success
    /// page (`#device-success`).
    pub fn approve_device(
        &self,
        verification_uri: &str,
        user_code: Option<&str>,
        user: &str,
        password: &str,
    ) -> Result<(), BrowserError> {
        let start = parse_url(verification_uri)?;
        match self.drive(start, user, password, user_code)? {
            Outcome::DeviceSuccess => Ok(()),
            Outcome::Callback(url) => Err(BrowserError::BadRedirect {
                url: verification_uri.to_string(),
                location: url.to_string(),
            }),
        }
    }

    /// Denies a device authorization as a person pressing "Cancel" would: opens `verification_uri`, types
    /// `user_code`, and on the confirmation page submits the abort form (`#device-abort-form`) instead of
    /// confirming. The device code's next poll then answers `access_denied`. Expects the page that says the
    /// sign-in was aborted.
    pub fn deny_device(&self, verification_uri: &str, user_code: &str) -> Result<(), BrowserError> {
        let start = parse_url(verification_uri)?;
        let page = self.page(self.client.get(start.clone()), &start)?;
        let form = first_form(&page).ok_or_else(|| BrowserError::NoForm {
            url: start.to_string(),
            body: page.clone(),
        })?;
        let target = start
            .join(&form.action)
            .map_err(|_| BrowserError::BadRedirect {
                url: start.to_string(),
                location: form.action.clone(),
            })?;
        let fields: Vec<(String, String)> = form
            .fields
            .into_iter()
            .map(|(name, value)| match name.as_str() {
                "user_code" => (name, user_code.to_string()),
                _ => (name, value),
            })
            .collect();
        let confirm = self.page(self.client.post(target.clone()).form(&fields), &target)?;
        let abort_at = confirm
            .find("id=\"device-abort-form\"")
            .and_then(|i| confirm[..i].rfind("<form"))
            .ok_or_else(|| BrowserError::NoForm {
                url: target.to_string(),
                body: confirm.clone(),
            })?;
        let abort = first_form(&confirm[abort_at..]).ok_or_else(|| BrowserError::NoForm {
            url: target.to_string(),
            body: confirm.clone(),
        })?;
        let abort_url = target
            .join(&abort.action)
            .map_err(|_| BrowserError::BadRedirect {
                url: target.to_string(),
                location: abort.action.clone(),
            })?;
        let answer = self.page(
            self.client.post(abort_url.clone()).form(&abort.fields),
            &abort_url,
        )?;
        if answer.contains("aborted") {
            Ok(())
        } else {
            Err(BrowserError::NoForm {
                url: abort_url.to_string(),
                body: answer,
            })
        }
    }

    /// The body of a 2xx answer (no redirects expected).
    fn page(
        &self,
        request: reqwest::blocking::RequestBuilder,
        url: &Url,
    ) -> Result<String, BrowserError> {
        let response = self.send(request, url)?;
        let status = response.status();
        let body = response.text().unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            Err(BrowserError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body,
            })
        }
    }

    fn send(
        &self,
        request: reqwest::blocking::RequestBuilder,
        url: &Url,
    ) -> Result<Response, BrowserError> {
        request.send().map_err(|e| BrowserError::Http {
            url: url.to_string(),
            message: error_chain(&e),
        })
    }

    fn drive(
        &self,
        start: Url,
        user: &str,
        password: &str,
        user_code: Option<&str>,
    ) -> Result<Outcome, BrowserError> {
        let origin = start.origin();
        let mut url = start;
        let mut post: Option<Vec<(String, String)>> = None;
        let mut login_posted = false;
        for _ in 0..MAX_STEPS {
            let request = match post.take() {
                Some(fields) => self.client.post(url.clone()).form(&fields),
                None => self.client.get(url.clone()),
            };
            let response = self.send(request, &url)?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let next = url.join(&location).map_err(|_| BrowserError::BadRedirect {
                    url: url.to_string(),
                    location: location.clone(),
                })?;
                if next.origin() != origin && is_loopback_http(&next) {
                    return Ok(Outcome::Callback(next));
                }
                url = next;
                continue;
            }
            let body = response.text().unwrap_or_default();
            if status.as_u16() == 401 {
                return Err(BrowserError::LoginRejected { status: 401, body });
            }
            if !status.is_success() {
                return Err(BrowserError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    body,
                });
            }
            if body.contains("id=\"device-success\"") {
                return Ok(Outcome::DeviceSuccess);
            }
            let Some(form) = first_form(&body) else {
                return Err(BrowserError::NoForm {
                    url: url.to_string(),
                    body,
                });
            };
            let mut fields = form.fields;
            for (name, value) in &mut fields {
                match name.as_str() {
                    "login" => {
                        if login_posted {
                            // The login form came back after submitting it: credentials rejected.
                            return Err(BrowserError::LoginRejected { status: 200, body });
                        }
                        login_posted = true;
                        *value = user.to_string();
                    }
                    "password" => *value = password.to_string(),
                    "user_code" if value.is_empty() => {
                        *value = user_code.unwrap_or_default().to_string();
                    }
                    _ => {}
                }
            }
            let target = url
                .join(&form.action)
                .map_err(|_| BrowserError::BadRedirect {
                    url: url.to_string(),
                    location: form.action.clone(),
                })?;
            if form.method_post {
                post = Some(fields);
                url = target;
            } else {
                url = target;
                url.query_pairs_mut().clear().extend_pairs(fields);
            }
        }
        Err(BrowserError::TooManySteps {
            last_url: url.to_string(),
        })
    }
}

fn parse_url(value: &str) -> Result<Url, BrowserError> {
    Url::parse(value).map_err(|e| BrowserError::Http {
        url: value.to_string(),
        message: format!("invalid URL: {e}"),
    })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `http` on `localhost` or a loopback IP (what Dex accepts as a native redirect URI).
pub fn is_loopback_http(url: &Url) -> bool {
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

struct Form {
    action: String,
    method_post: bool,
    /// `name=value` of every named `<input>` (buttons are not submitted).
    fields: Vec<(String, String)>,
}

/// The first `<form>` of an HTML page (a hand-written scan; good enough for the stand-ins' pages).
fn first_form(html: &str) -> Option<Form> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<form")?;
    let tag_end = start + lower[start..].find('>')?;
    let attrs = parse_attributes(&html[start + "<form".len()..tag_end]);
    let end = lower[tag_end..]
        .find("</form")
        .map_or(html.len(), |i| tag_end + i);
    let inner_lower = &lower[tag_end..end];
    let inner = &html[tag_end..end];
    let mut fields = Vec::new();
    let mut pos = 0;
    while let Some(i) = inner_lower[pos..].find("<input") {
        let tag_start = pos + i + "<input".len();
        let Some(close) = inner_lower[tag_start..].find('>') else {
            break;
        };
        let input = parse_attributes(&inner[tag_start..tag_start + close]);
        pos = tag_start + close;
        let get = |key: &str| input.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let kind = get("type").unwrap_or_default().to_ascii_lowercase();
        if matches!(kind.as_str(), "submit" | "button" | "image" | "reset") {
            continue;
        }
        if let Some(name) = get("name") {
            fields.push((name, get("value").unwrap_or_default()));
        }
    }
    let attr = |key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    Some(Form {
        action: attr("action").unwrap_or_default(),
        method_post: attr("method").is_some_and(|m| m.eq_ignore_ascii_case("post")),
        fields,
    })
}

/// `key="value"`, `key='value'`, `key=value` and bare `key` attributes, keys lower-cased, values unescaped.
fn parse_attributes(tag: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = tag.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let is_sep = |c: char| c.is_whitespace() || c == '/';
    while i < chars.len() {
        while i < chars.len() && is_sep(chars[i]) {
            i += 1;
        }
        let key_start = i;
        while i < chars.len() && !is_sep(chars[i]) && chars[i] != '=' {
            i += 1;
        }
        if key_start == i {
            i += 1;
            continue;
        }
        let key: String = chars[key_start..i]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let quote = chars[i];
                i += 1;
                let value_start = i;
                while i < chars.len() && chars[i] != quote {
                    i += 1;
                }
                value = chars[value_start..i].iter().collect();
                i += 1;
            } else {
                let value_start = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                value = chars[value_start..i].iter().collect();
            }
        }
        out.push((key, unescape(&value)));
    }
    out
}

fn unescape(value: &str) -> String {
    if !value.contains('&') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_the_first_form() {
        let html = r#"<p>x</p><FORM id="f" method="post" action="/dex/auth/local/login/a&amp;b">
            <input type="hidden" name="xsrf" value="s&#39;1"/>
            <input required id="login" name="login" type="text" value="" autofocus/>
            <input name=password type=password>
            <button id="submit-login" type="submit">Login</button>
            <input type="submit" name="go" value="Go"/>
        </form><form action="/other"><input name="no"/></form>"#;
        let form = first_form(html).expect("a form");
        assert_eq!(form.action, "/dex/auth/local/login/a&b");
        assert!(form.method_post);
        let names: Vec<_> = form
            .fields
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        assert_eq!(names, ["xsrf=s'1", "login=", "password="]);
    }

    #[test]
    fn loopback_detection() {
        let yes = [
            "http://127.0.0.1:1/callback",
            "http://[::1]:2/x",
            "http://localhost:3/",
        ];
        let no = ["https://127.0.0.1/callback", "http://example.com/callback"];
        for u in yes {
            assert!(is_loopback_http(&Url::parse(u).expect("url")), "{u}");
        }
        for u in no {
            assert!(!is_loopback_http(&Url::parse(u).expect("url")), "{u}");
        }
    }
}
