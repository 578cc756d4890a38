//! How the CLI signs in: the system browser with a loopback redirect (the URL is printed too), or a
//! device code with a QR code on a terminal. Either way the use case then writes the provider's
//! kubeconfig entries (`signet_core::usecase::login`).

use std::io::IsTerminal;
use std::time::Duration;

use signet_core::oidc::DeviceCode;
use signet_core::oidc::opener::{CommandOpener, SystemBrowser, UrlOpener};
use signet_core::session::LoginMethod;
use signet_core::text::printable;
use signet_core::usecase::{self, login::SignedIn};
use signet_core::{Error, Signet};

use crate::output::plugin_command;

/// How long a browser sign-in may take before the loopback listener gives up.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// Signs in to `provider` (by device code when `device`), then writes its kubeconfig entries.
pub fn sign_in(
    signet: &Signet,
    provider: &str,
    device: bool,
    browser_command: Option<String>,
) -> Result<SignedIn, Error> {
    let plugin = plugin_command();
    if device {
        let show = |code: &DeviceCode| {
            eprintln!(
                "To sign in to {provider}, open {} and enter the code {}",
                printable(&code.verification_uri),
                printable(&code.user_code)
            );
            if let Some(complete) = &code.verification_uri_complete {
                eprintln!("  (or open {})", printable(complete));
            }
            if std::io::stderr().is_terminal() {
                let target = code
                    .verification_uri_complete
                    .as_deref()
                    .unwrap_or(&code.verification_uri);
                if let Ok(qr) = qrcode::QrCode::new(target.as_bytes()) {
                    let art = qr
                        .render::<qrcode::render::unicode::Dense1x2>()
                        .dark_color(qrcode::render::unicode::Dense1x2::Light)
                        .light_color(qrcode::render::unicode::Dense1x2::Dark)
                        .build();
                    eprintln!("{art}");
                }
            }
            eprintln!("Waiting for approval…");
        };
        return usecase::login::login(
            signet,
            provider,
            LoginMethod::Device {
                show: &show,
                cancel: None,
            },
            &plugin,
        );
    }
    let opener: Box<dyn UrlOpener> = match browser_command {
        Some(command) => Box::new(CommandOpener { command }),
        None => Box::new(SystemBrowser::from_env()),
    };
    let announcing = Announce(opener);
    usecase::login::login(
        signet,
        provider,
        LoginMethod::Browser {
            opener: &announcing,
            timeout: BROWSER_TIMEOUT,
        },
        &plugin,
    )
}

/// Opens the URL and tells the person, with the URL to paste if no browser appears.
struct Announce(Box<dyn UrlOpener>);

impl UrlOpener for Announce {
    fn open(&self, url: &url::Url) -> Result<(), String> {
        eprintln!("Opening your browser to sign in. If it does not open, visit:\n  {url}");
        self.0.open(url)
    }
}

pub fn has_display() -> bool {
    cfg!(any(target_os = "macos", windows))
        || std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
}

/// Whether to sign in by device code when the person did not say: no display and no `$BROWSER`.
pub fn prefer_device() -> bool {
    !has_display() && std::env::var_os("BROWSER").is_none()
}
