//! The loopback redirect listener of RFC 8252 §7.3: `http://127.0.0.1:<ephemeral>/callback`.
//!
//! It binds to loopback only, lives for one sign-in, answers the browser with a small page that says
//! whether to go back to the terminal, and hands the full redirect URL (code and state) to
//! [`super::OidcProvider::finish_login`]. Requests for other paths (a browser's `/favicon.ico`) get a 404.
//!
//! Any local program can connect to the port, so the listener trusts no caller (DESIGN.md §6): a
//! `/callback` whose `state` is not the one of the sign-in in progress — including an `error=` reply — is
//! answered 400 and ignored, and the sign-in goes on. Each connection is read on its own thread with a
//! total deadline for its request head ([`HEAD_DEADLINE`]) and a size cap, at most [`MAX_CONNECTIONS`] at
//! once, so slow or idle clients cannot hold the real redirect back, and the overall login deadline is
//! checked on every turn of the accept loop, so it always fires.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use url::Url;

use super::OidcError;

/// How long one connection may take to send its whole request head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// Connections read at the same time; more are closed at once (each lives at most [`HEAD_DEADLINE`]).
pub const MAX_CONNECTIONS: usize = 32;
/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// A one-shot HTTP listener on `127.0.0.1:<ephemeral>`.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: Url,
}

/// A browser request to `/callback` carrying the expected `state`, waiting for its answer page.
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

    /// Waits up to `timeout` for a request to `/callback` whose `state` is `state`; every other request
    /// is answered (404 or 400) and ignored.
    pub fn accept(&self, timeout: Duration, state: &str) -> Result<Callback, OidcError> {
        let deadline = Instant::now() + timeout;
        let (found, arrivals) = mpsc::channel::<Callback>();
        let live = Arc::new(AtomicUsize::new(0));
        loop {
            if let Ok(callback) = arrivals.try_recv() {
                return Ok(callback);
            }
            if Instant::now() >= deadline {
                return Err(OidcError::LoginTimeout(timeout));
            }
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if live.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                        drop(stream);
                        continue;
                    }
                    live.fetch_add(1, Ordering::SeqCst);
                    let (found, counter) = (found.clone(), Arc::clone(&live));
                    let (redirect, state) = (self.redirect_uri.clone(), state.to_owned());
                    let spawned = std::thread::Builder::new()
                        .name("signet-loopback".into())
                        .spawn(move || {
                            if let Some(callback) = read_request(stream, &redirect, &state) {
                                let _ = found.send(callback);
                            }
                            counter.fetch_sub(1, Ordering::SeqCst);
                        });
                    if spawned.is_err() {
                        live.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if let Ok(callback) = arrivals.recv_timeout(left.min(Duration::from_millis(25)))
                    {
                        return Ok(callback);
                    }
                }
                // A connection reset before it was accepted, a full file table: back off, keep listening.
                Err(e) => {
                    tracing::debug!(error = %e, "loopback accept failed; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// Reads one request head within [`HEAD_DEADLINE`]; returns the callback when it carries `state`, else
/// answers (404 for another path, 400 for a foreign callback) and returns `None`.
fn read_request(stream: TcpStream, redirect: &Url, state: &str) -> Option<Callback> {
    let head = read_head(&stream)?;
    match parse_request(&head, redirect, state)? {
        Request::Callback(url) => Some(Callback { url, stream }),
        Request::Elsewhere => {
            respond(
                stream,
                "404 Not Found",
                "Not found",
                "This address only receives Signet's sign-in redirect.",
            );
            None
        }
        Request::ForeignCallback => {
            tracing::warn!(
                "ignored a sign-in redirect whose state does not match the sign-in in progress"
            );
            respond(
                stream,
                "400 Bad Request",
                "Not this sign-in",
                "This answer does not belong to the sign-in Signet is waiting for, so it was ignored. Finish the sign-in in the window Signet opened.",
            );
            None
        }
    }
}

/// What a request head asks of the listener.
#[doc(hidden)]
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// `GET` of the redirect path carrying the `state` of the sign-in in progress.
    Callback(Url),
    /// The redirect path with another `state`, or none (answered 400 and ignored).
    ForeignCallback,
    /// Another path or method (answered 404).
    Elsewhere,
}

/// Reads a request head's request line against the `redirect` URI and the expected `state`; `None` when
/// it has no method and target (the connection is then closed without an answer). Public for the property
/// tests (`tests/properties.rs`), which feed it random and mutated heads.
#[doc(hidden)]
pub fn parse_request(head: &str, redirect: &Url, state: &str) -> Option<Request> {
    let request_line = head.lines().next()?;
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next()?, parts.next()?);
    let url = redirect.join(target).ok()?;
    if method != "GET" || url.path() != redirect.path() {
        return Some(Request::Elsewhere);
    }
    let carried = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if super::constant_time_eq(carried.as_bytes(), state.as_bytes()) {
        Some(Request::Callback(url))
    } else {
        Some(Request::ForeignCallback)
    }
}

/// The request head (up to the blank line), read within [`HEAD_DEADLINE`] in total and at most
/// [`MAX_HEAD`] bytes; `None` when the client is too slow, too big or not HTTP.
fn read_head(stream: &TcpStream) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    let deadline = Instant::now() + HEAD_DEADLINE;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let mut reader = stream;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        reader.set_read_timeout(Some(left)).ok()?;
        let n = reader.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = find_end(&head) {
            head.truncate(end);
            return String::from_utf8(head).ok();
        }
        if head.len() > MAX_HEAD {
            return None;
        }
    }
}

/// Where the head ends (the first blank line), if it has.
fn find_end(head: &[u8]) -> Option<usize> {
    head.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| head.windows(2).position(|w| w == b"\n\n"))
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
        let callback = listener
            .accept(Duration::from_secs(5), "st4te")
            .expect("callback");
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
            .accept(Duration::from_millis(100), "st4te")
            .expect_err("nobody came");
        assert_eq!(err.code(), "oidc.login_timeout");
    }

    /// Sends `head` to the listener and returns the answer (read until the listener closes).
    fn send(uri: &Url, head: &str) -> String {
        let mut stream =
            TcpStream::connect(uri.socket_addrs(|| None).expect("addr")[0]).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let _ = stream.write_all(head.as_bytes());
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    /// A client that sends one byte of a request head every 100 ms for `for_how_long`, never finishing.
    fn trickle(uri: &Url, for_how_long: Duration) -> std::thread::JoinHandle<()> {
        let addr = uri.socket_addrs(|| None).expect("addr")[0];
        std::thread::spawn(move || {
            let Ok(mut stream) = TcpStream::connect(addr) else {
                return;
            };
            let start = Instant::now();
            while start.elapsed() < for_how_long {
                if stream.write_all(b"G").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    }

    #[test]
    fn a_callback_with_the_wrong_or_no_state_is_answered_400_and_the_sign_in_goes_on() {
        let listener = LoopbackListener::bind().expect("bind");
        let uri = listener.redirect_uri().clone();
        // A local program races the browser with error and code replies; the browser comes last.
        let clients = std::thread::spawn(move || {
            let foreign = [
                "/callback?error=access_denied&error_description=gotcha&state=wrong",
                "/callback?error=access_denied",
                "/callback?code=evil&state=wrong",
                "/callback?code=evil",
            ]
            .map(|path| send(&uri, &format!("GET {path} HTTP/1.1\r\n\r\n")));
            (foreign, get(&uri, "/callback?code=c0de&state=st4te"))
        });
        let callback = listener
            .accept(Duration::from_secs(10), "st4te")
            .expect("the real redirect still counts");
        assert_eq!(callback.url.query(), Some("code=c0de&state=st4te"));
        callback.finish(Ok(""));
        let (foreign, real) = clients.join().expect("clients");
        for answer in &foreign {
            assert!(
                answer.starts_with("HTTP/1.1 400"),
                "a foreign callback is answered 400: {answer}"
            );
        }
        assert!(real.starts_with("HTTP/1.1 200"), "{real}");
    }

    #[test]
    fn slow_and_idle_connections_cannot_block_the_real_redirect() {
        let listener = LoopbackListener::bind().expect("bind");
        let uri = listener.redirect_uri().clone();
        let slow: Vec<_> = (0..3)
            .map(|_| trickle(&uri, Duration::from_secs(8)))
            .collect();
        let idle: Vec<TcpStream> = (0..20)
            .map(|_| TcpStream::connect(uri.socket_addrs(|| None).expect("addr")[0]).expect("idle"))
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let real_uri = uri.clone();
        let browser = std::thread::spawn(move || get(&real_uri, "/callback?code=c0de&state=st4te"));
        let start = Instant::now();
        let callback = listener
            .accept(Duration::from_secs(20), "st4te")
            .expect("the real redirect arrives");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "the real redirect waited {:?} behind slow clients",
            start.elapsed()
        );
        callback.finish(Ok(""));
        browser.join().expect("browser");
        drop(idle);
        for s in slow {
            s.join().expect("slow client");
        }
    }

    #[test]
    fn the_login_deadline_fires_while_a_client_trickles_its_request() {
        let listener = LoopbackListener::bind().expect("bind");
        let uri = listener.redirect_uri().clone();
        let slow = trickle(&uri, Duration::from_secs(6));
        std::thread::sleep(Duration::from_millis(150));
        let start = Instant::now();
        let err = listener
            .accept(Duration::from_millis(700), "st4te")
            .expect_err("nobody finished a request");
        assert_eq!(err.code(), "oidc.login_timeout");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the deadline fired after {:?}",
            start.elapsed()
        );
        slow.join().expect("slow client");
    }
}
