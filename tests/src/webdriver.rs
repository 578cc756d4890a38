//! A small blocking W3C WebDriver client, and [`Driver`]: `tauri-driver` (in front of WebKitWebDriver)
//! started for one test (DESIGN.md §7, "Display").
//!
//! Only what Signet's end-to-end tests use: sessions whose browser is a Tauri app (`tauri:options`),
//! window handles, elements found by CSS, keys, clicks, scripts, screenshots. Every failure carries the
//! command and the remote end's `error` and `message`, so a broken test says what the browser said.
//!
//! [`Driver`] runs `tauri-driver` in its own process group, in an environment the caller prepares (the
//! test's throw-away `HOME`, bus and display); dropping it ends the group: tauri-driver, WebKitWebDriver
//! and the app they started. Nothing here is skipped when a tool is missing: it fails saying what to
//! install.

use std::fmt;
use std::io::Read as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// The key of an element reference in W3C WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long one WebDriver command may take (a new session starts the app).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// See [`WebDriver::screenshot`].
const REPAINT_NUDGE: &str = r#"
const dot = document.createElement("div");
dot.style.cssText = "position:fixed;left:0;top:0;width:1px;height:1px;opacity:0.01;background:#000;pointer-events:none;z-index:2147483647";
document.documentElement.appendChild(dot);
let n = 0;
const timer = setInterval(() => {
  dot.style.left = (n++ % 2) + "px";
  if (n > 40) { clearInterval(timer); dot.remove(); }
}, 50);
"#;

/// What went wrong talking to a WebDriver remote end.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebDriverError {
    /// The HTTP request itself failed (connection refused, timeout…).
    Http { command: String, message: String },
    /// The remote end answered a WebDriver error (`{"value":{"error","message"}}`).
    Command {
        command: String,
        status: u16,
        error: String,
        message: String,
    },
    /// The answer was not what the protocol says.
    Protocol { command: String, answer: String },
    /// [`wait_until`] ran out of time.
    Timeout {
        what: String,
        waited: Duration,
        last: Option<String>,
    },
    /// Writing a screenshot failed.
    Io { path: PathBuf, message: String },
}

impl WebDriverError {
    /// The WebDriver error code (`no such window`, `no such element`…), if the remote end sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            WebDriverError::Command { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebDriverError::Http { command, message } => {
                write!(f, "webdriver {command}: request failed: {message}")
            }
            WebDriverError::Command {
                command,
                status,
                error,
                message,
            } => write!(f, "webdriver {command}: {error} (HTTP {status}): {message}"),
            WebDriverError::Protocol { command, answer } => {
                write!(f, "webdriver {command}: unexpected answer {answer}")
            }
            WebDriverError::Timeout { what, waited, last } => {
                write!(f, "timed out after {waited:?} waiting for {what}")?;
                if let Some(last) = last {
                    write!(f, " (last error: {last})")?;
                }
                Ok(())
            }
            WebDriverError::Io { path, message } => {
                write!(f, "cannot write {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for WebDriverError {}

pub type Result<T, E = WebDriverError> = std::result::Result<T, E>;

/// Polls `probe` every 200 ms until it yields a value or `timeout` passes. A probe error does not end
/// the wait (windows come and go); the last one is reported on timeout, with `what` was awaited.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    let mut last = None;
    loop {
        match probe() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last = Some(e.to_string()),
        }
        if start.elapsed() >= timeout {
            return Err(WebDriverError::Timeout {
                what: what.to_string(),
                waited: start.elapsed(),
                last,
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The capabilities of a session whose browser is the Tauri app at `application`, started with `args`:
/// `browserName` `wry` (what wry reports; anything else fails to match) and `tauri:options`, which
/// tauri-driver maps to WebKitWebDriver's `webkitgtk:browserOptions` (only from `alwaysMatch`).
pub fn tauri_capabilities(application: &Path, args: &[&str]) -> Value {
    json!({
        "alwaysMatch": {
            "browserName": "wry",
            "tauri:options": { "application": application, "args": args },
        }
    })
}

/// One WebDriver session.
#[derive(Debug)]
pub struct WebDriver {
    http: Client,
    /// `http://host:port/session/<id>`
    base: String,
    id: String,
    capabilities: Value,
    deleted: bool,
}

/// An element of the current window's page.
#[derive(Debug, Clone)]
pub struct Element<'a> {
    driver: &'a WebDriver,
    id: String,
}

impl WebDriver {
    /// `POST /session` at `server` (e.g. `http://127.0.0.1:4444`) with `capabilities` (see
    /// [`tauri_capabilities`]).
    pub fn new_session(server: &str, capabilities: Value) -> Result<WebDriver> {
        let http = Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .map_err(|e| WebDriverError::Http {
                command: "new session".into(),
                message: e.to_string(),
            })?;
        let server = server.trim_end_matches('/');
        let value = send(
            &http,
            Method::POST,
            &format!("{server}/session"),
            "new session",
            Some(&json!({ "capabilities": capabilities })),
        )?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError::Protocol {
                command: "new session".into(),
                answer: value.to_string(),
            })?
            .to_string();
        Ok(WebDriver {
            http,
            base: format!("{server}/session/{id}"),
            capabilities: value["capabilities"].clone(),
            id,
            deleted: false,
        })
    }

    pub fn session_id(&self) -> &str {
        &self.id
    }

    /// What the remote end matched (`browserName`, `browserVersion`…).
    pub fn capabilities(&self) -> &Value {
        &self.capabilities
    }

    fn command(
        &self,
        method: Method,
        path: &str,
        name: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        send(
            &self.http,
            method,
            &format!("{}{path}", self.base),
            name,
            body,
        )
    }

    fn string(&self, path: &str, name: &str) -> Result<String> {
        let value = self.command(Method::GET, path, name, None)?;
        value
            .as_str()
            .map(String::from)
            .ok_or_else(|| WebDriverError::Protocol {
                command: name.into(),
                answer: value.to_string(),
            })
    }

    /// Every open top-level browsing context (one per webview window the automation sees).
    pub fn window_handles(&self) -> Result<Vec<String>> {
        let value = self.command(Method::GET, "/window/handles", "window handles", None)?;
        value
            .as_array()
            .map(|handles| {
                handles
                    .iter()
                    .filter_map(|h| h.as_str().map(String::from))
                    .collect()
            })
            .ok_or_else(|| WebDriverError::Protocol {
                command: "window handles".into(),
                answer: value.to_string(),
            })
    }

    /// The handle of the window commands go to.
    pub fn window_handle(&self) -> Result<String> {
        self.string("/window", "window handle")
    }

    pub fn switch_to_window(&self, handle: &str) -> Result<()> {
        self.command(
            Method::POST,
            "/window",
            "switch to window",
            Some(&json!({ "handle": handle })),
        )
        .map(drop)
    }

    /// Waits until exactly one window besides `main` is listed (a second one is an error: the app must
    /// never open two), switches to it, and waits for `selector` on its page. Returns its handle.
    pub fn switch_to_the_other_window(
        &self,
        main: &str,
        selector: &str,
        timeout: Duration,
    ) -> Result<String> {
        let others = wait_until(
            "a window next to the main one among the window handles",
            timeout,
            || {
                let others: Vec<String> = self
                    .window_handles()?
                    .into_iter()
                    .filter(|h| h != main)
                    .collect();
                Ok((!others.is_empty()).then_some(others))
            },
        )?;
        if others.len() != 1 {
            return Err(WebDriverError::Protocol {
                command: "window handles".into(),
                answer: format!("expected one window besides the main one, found {others:?}"),
            });
        }
        self.switch_to_window(&others[0])?;
        self.wait_for(selector, timeout)?;
        Ok(others[0].clone())
    }

    /// Clicks `submit` in the current window and waits until the app closes that window, then switches
    /// to `back_to`. A login window the app destroys on the IdP's redirect may end the click with "no such
    /// window" (or the page load it waited for): only the outcome counts, so that is not an error.
    pub fn submit_and_wait_for_close(
        &self,
        submit: &str,
        back_to: &str,
        timeout: Duration,
    ) -> Result<()> {
        let window = self.window_handle()?;
        if let Err(e) = self.find(submit)?.click() {
            eprintln!("webdriver: the click on {submit} ended with: {e}");
        }
        wait_until(
            "the app to close the window after the form was submitted",
            timeout,
            || Ok((!self.window_handles()?.contains(&window)).then_some(())),
        )?;
        self.switch_to_window(back_to)
    }

    pub fn current_url(&self) -> Result<String> {
        self.string("/url", "current url")
    }

    pub fn title(&self) -> Result<String> {
        self.string("/title", "title")
    }

    /// Resizes the current window (W3C "Set Window Rect"); answers the rect the window got.
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<Value> {
        self.command(
            Method::POST,
            "/window/rect",
            "set window rect",
            Some(&json!({ "width": width, "height": height })),
        )
    }

    /// The first element matching the CSS `selector`.
    pub fn find(&self, selector: &str) -> Result<Element<'_>> {
        let name = format!("find element {selector:?}");
        let value = self.command(
            Method::POST,
            "/element",
            &name,
            Some(&json!({ "using": "css selector", "value": selector })),
        )?;
        self.element(&value, &name)
    }

    /// Every element matching the CSS `selector` (possibly none).
    pub fn find_all(&self, selector: &str) -> Result<Vec<Element<'_>>> {
        let name = format!("find elements {selector:?}");
        let value = self.command(
            Method::POST,
            "/elements",
            &name,
            Some(&json!({ "using": "css selector", "value": selector })),
        )?;
        let Some(list) = value.as_array() else {
            return Err(WebDriverError::Protocol {
                command: name,
                answer: value.to_string(),
            });
        };
        list.iter().map(|v| self.element(v, &name)).collect()
    }

    fn element(&self, value: &Value, command: &str) -> Result<Element<'_>> {
        value[ELEMENT_KEY]
            .as_str()
            .map(|id| Element {
                driver: self,
                id: id.to_string(),
            })
            .ok_or_else(|| WebDriverError::Protocol {
                command: command.into(),
                answer: value.to_string(),
            })
    }

    /// Waits up to `timeout` for an element matching `selector` in the current window.
    pub fn wait_for(&self, selector: &str, timeout: Duration) -> Result<Element<'_>> {
        wait_until(&format!("an element {selector:?}"), timeout, || {
            Ok(self.find_all(selector)?.into_iter().next())
        })
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the current window and returns its
    /// value.
    pub fn execute(&self, script: &str, args: &[Value]) -> Result<Value> {
        self.command(
            Method::POST,
            "/execute/sync",
            "execute script",
            Some(&json!({ "script": script, "args": args })),
        )
    }

    /// A PNG of the current window's viewport.
    ///
    /// WebKitGTK takes the picture after the page's next presentation update, and a page that does not
    /// change never has one: the command would hang. So a script first keeps a 1×1 pixel at 1% opacity
    /// moving in the top-left corner for two seconds (then removes it), which is enough for an update
    /// and invisible in the picture.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        self.execute(REPAINT_NUDGE, &[])?;
        let value = self.command(Method::GET, "/screenshot", "take screenshot", None)?;
        decode_png(&value, "take screenshot")
    }

    /// [`WebDriver::screenshot`] written to `path` (its directory is created).
    pub fn save_screenshot(&self, path: &Path) -> Result<Vec<u8>> {
        let png = self.screenshot()?;
        write_file(path, &png)?;
        Ok(png)
    }

    /// Ends the session (the remote end closes the browser's automation).
    pub fn delete(mut self) -> Result<()> {
        self.deleted = true;
        send(
            &self.http,
            Method::DELETE,
            &self.base,
            "delete session",
            None,
        )
        .map(drop)
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        if !self.deleted {
            let _ = send(
                &self.http,
                Method::DELETE,
                &self.base,
                "delete session",
                None,
            );
        }
    }
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// Types `text` into the element (W3C "Element Send Keys").
    pub fn send_keys(&self, text: &str) -> Result<()> {
        self.driver
            .command(
                Method::POST,
                &self.path("/value"),
                "element send keys",
                Some(&json!({ "text": text })),
            )
            .map(drop)
    }

    pub fn click(&self) -> Result<()> {
        self.driver
            .command(
                Method::POST,
                &self.path("/click"),
                "element click",
                Some(&json!({})),
            )
            .map(drop)
    }

    pub fn clear(&self) -> Result<()> {
        self.driver
            .command(
                Method::POST,
                &self.path("/clear"),
                "element clear",
                Some(&json!({})),
            )
            .map(drop)
    }

    /// The rendered text.
    pub fn text(&self) -> Result<String> {
        self.driver.string(&self.path("/text"), "element text")
    }

    /// An HTML attribute (`None` when absent).
    pub fn attribute(&self, name: &str) -> Result<Option<String>> {
        let value = self.driver.command(
            Method::GET,
            &self.path(&format!("/attribute/{name}")),
            "element attribute",
            None,
        )?;
        Ok(value.as_str().map(String::from))
    }

    /// A DOM property as JSON (e.g. `value` of an input).
    pub fn property(&self, name: &str) -> Result<Value> {
        self.driver.command(
            Method::GET,
            &self.path(&format!("/property/{name}")),
            "element property",
            None,
        )
    }
}

fn decode_png(value: &Value, command: &str) -> Result<Vec<u8>> {
    value
        .as_str()
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .filter(|png| png.starts_with(b"\x89PNG"))
        .ok_or_else(|| WebDriverError::Protocol {
            command: command.into(),
            answer: value.to_string().chars().take(200).collect(),
        })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| WebDriverError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}

/// One WebDriver request: the answer's `value`, or the remote end's error.
fn send(
    http: &Client,
    method: Method,
    url: &str,
    command: &str,
    body: Option<&Value>,
) -> Result<Value> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(body);
    }
    let http_error = |e: reqwest::Error| WebDriverError::Http {
        command: command.into(),
        message: e.to_string(),
    };
    let response = request.send().map_err(http_error)?;
    let status = response.status();
    let text = response.text().map_err(http_error)?;
    let answer: Value = serde_json::from_str(&text).map_err(|_| WebDriverError::Protocol {
        command: command.into(),
        answer: format!(
            "HTTP {status}: {}",
            text.chars().take(400).collect::<String>()
        ),
    })?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() && value.get("error").is_none_or(Value::is_null) {
        return Ok(value);
    }
    Err(WebDriverError::Command {
        command: command.into(),
        status: status.as_u16(),
        error: value["error"]
            .as_str()
            .unwrap_or("unknown error")
            .to_string(),
        message: value["message"].as_str().unwrap_or_default().to_string(),
    })
}

/// `tauri-driver` on free loopback ports, with WebKitWebDriver behind it, in its own process group.
/// Dropped: the group (tauri-driver, WebKitWebDriver and the app they started) is terminated.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// Where `tauri-driver` is: on `PATH`, else in cargo's bin directory (`$CARGO_HOME/bin`, `~/.cargo/bin`).
/// Panics saying how to install it.
pub fn tauri_driver() -> PathBuf {
    let cargo_bins = [
        std::env::var_os("CARGO_HOME").map(|h| PathBuf::from(h).join("bin")),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")),
    ];
    find_program("tauri-driver", cargo_bins.into_iter().flatten()).unwrap_or_else(|| {
        panic!(
            "`tauri-driver` is not installed (looked on PATH and in cargo's bin directory): run \
             `cargo install tauri-driver --locked` (scripts/setup.sh does) — the webview tests never skip"
        )
    })
}

/// Where `WebKitWebDriver` is (on `PATH`, or `/usr/bin`). Panics saying how to install it.
pub fn webkit_webdriver() -> PathBuf {
    find_program("WebKitWebDriver", [PathBuf::from("/usr/bin")]).unwrap_or_else(|| {
        panic!(
            "`WebKitWebDriver` is not installed: run `apt-get install webkit2gtk-driver` \
             (scripts/setup.sh does) — the webview tests never skip"
        )
    })
}

fn find_program(name: &str, extra: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `N` distinct loopback ports nobody listens on right now (all held at once while choosing, so they
/// differ).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("reserve a free loopback port"))
        .collect();
    std::array::from_fn(|i| {
        held[i]
            .local_addr()
            .expect("a bound listener has an address")
            .port()
    })
}

impl Driver {
    /// Starts `tauri-driver --port P --native-port Q --native-driver <WebKitWebDriver>`; `environment`
    /// prepares the command (the test's env: `HOME`, `XDG_*`, bus, display). Its stderr (and so the
    /// app's, which WebKitWebDriver passes on) goes to `log`. Waits (≤ 20 s) until it answers `/status`.
    ///
    /// The ports are free when chosen but released before tauri-driver binds them, so another process can
    /// take one meanwhile; tauri-driver then exits at once (status 0, leaving its native driver behind).
    /// Such an early exit is retried with fresh ports (5 attempts), after killing what it left.
    pub fn start(log: &Path, environment: impl Fn(&mut Command)) -> Driver {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            match Driver::try_start(log, &environment) {
                Ok(driver) => return driver,
                Err(exit) if attempt < ATTEMPTS => eprintln!(
                    "tauri-driver exited before answering ({exit}; its port was probably taken \
                     meanwhile): retrying with new ports ({attempt}/{ATTEMPTS})"
                ),
                Err(exit) => panic!(
                    "tauri-driver exited before answering, {ATTEMPTS} times ({exit}): {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// One start; `Err` with its exit status when tauri-driver ended before answering `/status`.
    fn try_start(
        log: &Path,
        environment: &impl Fn(&mut Command),
    ) -> std::result::Result<Driver, std::process::ExitStatus> {
        let (program, native) = (tauri_driver(), webkit_webdriver());
        let [port, native_port] = free_ports::<2>();
        let mut cmd = Command::new(&program);
        environment(&mut cmd);
        {
            use std::os::unix::process::CommandExt as _;
            cmd.process_group(0);
        }
        let stderr =
            std::fs::File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let stdout = stderr.try_clone().expect("clone the log file handle");
        let child = cmd
            .arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .arg("--native-driver")
            .arg(&native)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let mut driver = Driver {
            child,
            port,
            log: log.to_path_buf(),
        };
        let status = Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("build an HTTP client");
        let url = format!("{}/status", driver.url());
        let mut exited = None;
        let ready = wait_until(
            "tauri-driver to answer /status",
            Duration::from_secs(20),
            || {
                if let Some(exit) = driver.child.try_wait().map_err(|e| WebDriverError::Http {
                    command: "status".into(),
                    message: e.to_string(),
                })? {
                    exited = Some(exit);
                    return Ok(Some(()));
                }
                Ok(status
                    .get(&url)
                    .send()
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(drop))
            },
        );
        if let Some(exit) = exited {
            // Dropping the driver kills its process group: the native driver it left behind.
            drop(driver);
            return Err(exit);
        }
        if let Err(e) = ready {
            panic!("{e}; tauri-driver log:\n{}", driver.log_text());
        }
        Ok(driver)
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// tauri-driver's pid (also its process group's id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What tauri-driver, WebKitWebDriver and the app wrote to stderr so far.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// A session driving the Tauri app at `application` (started by WebKitWebDriver with `args`).
    pub fn session(&self, application: &Path, args: &[&str]) -> Result<WebDriver> {
        WebDriver::new_session(&self.url(), tauri_capabilities(application, args))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        // TERM first (the app removes its agent socket), then KILL whatever is left of the group.
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        signal("-KILL");
        let _ = self.child.wait();
    }
}
