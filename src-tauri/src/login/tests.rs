use base64::Engine as _;

use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).expect("valid test URL")
}

const REDIRECT: &str = "http://127.0.0.1:43117/callback";

#[test]
fn captures_the_redirect_with_its_code_and_state() {
    assert_eq!(
        decide(
            &url("http://127.0.0.1:43117/callback?code=abc&state=xyz"),
            &url(REDIRECT)
        ),
        Navigation::Capture
    );
}

#[test]
fn captures_an_error_redirect_too() {
    assert_eq!(
        decide(
            &url("http://127.0.0.1:43117/callback?error=access_denied&state=xyz"),
            &url(REDIRECT)
        ),
        Navigation::Capture
    );
}

#[test]
fn lets_idp_and_upstream_pages_through() {
    for page in [
        "http://127.0.0.1:5556/dex/auth?client_id=signet&redirect_uri=http%3A%2F%2F127.0.0.1%3A43117%2Fcallback",
        "http://127.0.0.1:5556/dex/auth/local/login?back=&state=q",
        "https://github.com/login/oauth/authorize?client_id=x",
        "https://dex.example.com/callback?code=upstream",
        "about:blank",
    ] {
        assert_eq!(
            decide(&url(page), &url(REDIRECT)),
            Navigation::Allow,
            "{page} is a page of the sign-in"
        );
    }
}

#[test]
fn blocks_anything_else_aimed_at_the_reserved_port() {
    for page in [
        "http://127.0.0.1:43117/",
        "http://127.0.0.1:43117/callback/../other",
        "http://127.0.0.1:43117/callbackx?code=abc",
        "http://localhost:43117/callback?code=abc",
        "http://[::1]:43117/callback?code=abc",
    ] {
        assert_eq!(
            decide(&url(page), &url(REDIRECT)),
            Navigation::Block,
            "{page} must never reach the reserved port"
        );
    }
}

#[test]
fn blocks_schemes_a_sign_in_page_has_no_business_with() {
    for page in [
        "file:///etc/passwd",
        "tauri://localhost/index.html",
        "data:text/html,hi",
        "javascript:alert(1)",
        "ipc://localhost/plugin:foo",
    ] {
        assert_eq!(
            decide(&url(page), &url(REDIRECT)),
            Navigation::Block,
            "{page}"
        );
    }
}

#[test]
fn refuses_plain_http_pages_off_loopback() {
    for page in [
        "http://dex.example.com/dex/auth?client_id=signet",
        "http://github.com/login",
        "http://10.0.0.1:5556/dex/auth",
        "http://127.0.0.1.evil.example/auth",
    ] {
        assert_eq!(
            decide(&url(page), &url(REDIRECT)),
            Navigation::Block,
            "{page} is plain http off loopback"
        );
    }
    for page in [
        "http://localhost:5556/dex/auth",
        "http://[::1]:5556/dex/auth",
        "http://127.0.0.2:5556/dex/auth",
    ] {
        assert_eq!(
            decide(&url(page), &url(REDIRECT)),
            Navigation::Allow,
            "{page} is on loopback"
        );
    }
}

#[test]
fn the_window_title_names_the_idp_host() {
    assert_eq!(
        window_title("corp", &url("https://dex.example.com/dex/auth?x=1")),
        "Sign in to corp at dex.example.com — Signet"
    );
    assert_eq!(
        window_title("corp", &url("http://127.0.0.1:5556/dex/auth")),
        "Sign in to corp at 127.0.0.1:5556 — Signet"
    );
}

#[test]
fn recognises_idps_that_refuse_embedded_browsers() {
    let google = format!(
        "https://accounts.google.com/signin/oauth/error?authError={}&client_id=x",
        base64::engine::general_purpose::STANDARD
            .encode("Cg9kaXNhbGxvd2VkX3VzZXJhZ2VudBIB disallowed_useragent")
    );
    assert_eq!(
        decide(&url(&google), &url(REDIRECT)),
        Navigation::EmbeddedRefused
    );
    assert_eq!(
        decide(
            &url("https://idp.example.com/err?error=disallowed_useragent"),
            &url(REDIRECT)
        ),
        Navigation::EmbeddedRefused
    );
    assert!(title_refuses_embedded("Error 403: disallowed_useragent"));
    assert!(!title_refuses_embedded("Sign in – Google Accounts"));
}

#[test]
fn logged_urls_lose_their_query() {
    assert_eq!(
        without_query(&url("http://127.0.0.1:43117/callback?code=secret#frag")),
        "http://127.0.0.1:43117/callback"
    );
}
