//! The loopback redirect listener of RFC 8252 §7.3: `http://127.0.0.1:<ephemeral>/callback`.
//!
//! It binds to loopback only, lives for one sign-in, answers the browser with a small page that says
//! whether to go back to the terminal, and hands the full redirect URL (code, state or error) to
//! [`super::OidcProvider::finish_login`]. Requests for other paths (a browser's `/favicon.ico`) get a 404.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use url::Url;

use super::OidcError;

/// A one-shot HTTP listener on `127.0.0.1:<ephemeral>`.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: Url,
}

/// A browser request to `/callback`, waiting for its answer page.
#[derive(Debug)]
pub struct Callback {
    pub url: Url,
    stream: TcpStream,
}

impl LoopbackListener {
    pub fn bind() -> Result<LoopbackListener, OidcError> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .map_err(OidcError::Listener)?;
        let port = listener.local_addr().map_err(OidcError::Listener)?.port();
        let redirect_uri = Url::parse(&format!("http://127.0.0.1:{port}/callback"))
            .map_err(|e| OidcError::Listener(io::Error::other(e)))?;
        listener
            .set_nonblocking(true)
            .map_err(OidcError::Listener)?;
        Ok(LoopbackListener {
            listener,
            redirect_uri,
        })
    }

    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Waits up to `timeout` for the browser to arrive at `/callback`.
    pub fn accept(&self, timeout: Duration) -> Result<Callback, OidcError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Some(callback) = self.read_request(stream) {
                        return Ok(callback);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(OidcError::LoginTimeout(timeout));
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) => return Err(OidcError::Listener(e)),
            }
        }
    }

    /// Reads one request head; returns the callback, or answers 404 and returns `None` for anything else.
    fn read_request(&self, stream: TcpStream) -> Option<Callback> {
        stream.set_nonblocking(false).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut reader = BufReader::new(stream.try_clone().ok()?).take(16 * 1024);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).ok()?;
        // Drain the headers so the browser sees a clean answer.
        let mut line = String::new();
        while reader.read_line(&mut line).ok()? > 2 {
            line.clear();
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next()?, parts.next()?);
        let url = self.redirect_uri.join(target).ok()?;
        if method == "GET" && url.path() == self.redirect_uri.path() {
            Some(Callback { url, stream })
        } else {
            respond(
                stream,
                "404 Not Found",
                "Not found",
                "This address only receives Signet's sign-in redirect.",
            );
            None
        }
    }
}

impl Callback {
    /// Answers the browser: the sign-in worked, or it failed and why (no secrets are ever in `outcome`).
    pub fn finish(self, outcome: Result<&str, &str>) {
        match outcome {
            Ok(who) => respond(
                self.stream,
                "200 OK",
                "Signed in",
                &format!("Signed in{who}. You can close this tab and go back to your terminal."),
            ),
            Err(why) => respond(
                self.stream,
                "400 Bad Request",
                "Sign-in failed",
                &format!("Sign-in failed: {why}. Go back to your terminal for what to do next."),
            ),
        }
    }
}

fn respond(mut stream: TcpStream, status: &str, title: &str, message: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Signet — {title}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;color:#222}}\
         @media(prefers-color-scheme:dark){{body{{background:#1e1e1e;color:#eee}}}}</style></head>\
         <body><h1>{title}</h1><p id=\"signet-message\">{}</p></body></html>",
        escape_html(message)
    );
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &Url, path: &str) -> String {
        let mut stream =
            TcpStream::connect(uri.socket_addrs(|| None).expect("addr")[0]).expect("connect");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        answer
    }

    #[test]
    fn hands_over_the_callback_and_answers_404_to_other_paths() {
        let listener = LoopbackListener::bind().expect("bind");
        let uri = listener.redirect_uri().clone();
        assert_eq!(uri.host_str(), Some("127.0.0.1"));
        let browser = std::thread::spawn(move || {
            let favicon = get(&uri, "/favicon.ico");
            let page = get(&uri, "/callback?code=c0de&state=st4te");
            (favicon, page)
        });
        let callback = listener.accept(Duration::from_secs(5)).expect("callback");
        assert_eq!(callback.url.query(), Some("code=c0de&state=st4te"));
        callback.finish(Err("the identity provider said <'access_denied'>"));
        let (favicon, page) = browser.join().expect("browser thread");
        assert!(
            favicon.starts_with("HTTP/1.1 404"),
            "favicon answer: {favicon}"
        );
        assert!(page.starts_with("HTTP/1.1 400"), "callback answer: {page}");
        assert!(
            page.contains("&lt;&#x27;access_denied&#x27;&gt;")
                || page.contains("&lt;'access_denied'&gt;"),
            "escaped page: {page}"
        );
    }

    #[test]
    fn gives_up_after_the_timeout() {
        let listener = LoopbackListener::bind().expect("bind");
        let err = listener
            .accept(Duration::from_millis(100))
            .expect_err("nobody came");
        assert_eq!(err.code(), "oidc.login_timeout");
    }
}
