//! Signing in: the sign-in itself (browser, device code or the tray's embedded window, see
//! [`Signet::login`] and [`Signet::finish_login`]), then the kubeconfig entries of the provider's
//! clusters (DESIGN.md J2). [`sign_in_once`] keeps concurrent kubectl processes to one sign-in.

use std::time::Duration;

use crate::oidc::Identity;
use crate::session::LoginMethod;
use crate::sync::SyncReport;
use crate::token_store::{self, SessionRecord};
use crate::{Error, Signet};

/// How long a process waits for another process's sign-in to the same provider to finish (a browser
/// sign-in may take five minutes).
pub const SIGN_IN_LOCK_TIMEOUT: Duration = Duration::from_secs(330);

/// A sign-in that ended well, and what it wrote.
#[derive(Debug)]
pub struct SignedIn {
    pub provider: String,
    pub record: SessionRecord,
    /// The kubeconfig entries written for the provider's clusters; an error leaves the session signed
    /// in (the tokens are kept), so each adapter decides how loud to be.
    pub synced: Result<Vec<SyncReport>, Error>,
}

impl SignedIn {
    /// Who signed in: the email claim, else the subject. Text from the IdP: escape it before showing.
    pub fn who(&self) -> &str {
        who(&self.record.identity)
    }

    /// The clusters whose contexts were written.
    pub fn clusters(&self) -> Vec<String> {
        self.synced
            .iter()
            .flatten()
            .flat_map(|r| r.contexts.iter().map(|(cluster, _)| cluster.clone()))
            .collect()
    }
}

/// Who an identity is, for people: the email claim, else the subject.
pub fn who(identity: &Identity) -> &str {
    identity.email.as_deref().unwrap_or(&identity.subject)
}

/// Signs in to `provider`, then writes its clusters' kubeconfig entries. `plugin` is the exec entry's
/// command.
pub fn login(
    signet: &Signet,
    provider: &str,
    method: LoginMethod<'_>,
    plugin: &str,
) -> Result<SignedIn, Error> {
    let record = signet.login(provider, method)?;
    Ok(signed_in(signet, record, plugin))
}

/// What follows every sign-in, however it ran: the provider's kubeconfig entries are written.
pub fn signed_in(signet: &Signet, record: SessionRecord, plugin: &str) -> SignedIn {
    let synced = signet.sync_kubeconfig(Some(&record.provider), plugin);
    if let Err(e) = &synced {
        tracing::warn!(provider = %record.provider, error = %e, "signed in, but kubeconfig could not be written");
    }
    SignedIn {
        provider: record.provider.clone(),
        record,
        synced,
    }
}

/// Signs in unless another process is already doing it: the first caller takes the provider's login
/// lock and runs `sign_in`; the others wait for the lock, then use the session it made. `Ok(false)`
/// means another process signed in meanwhile.
pub fn sign_in_once(
    signet: &Signet,
    provider: &str,
    sign_in: impl FnOnce() -> Result<SignedIn, Error>,
) -> Result<bool, Error> {
    let session = || {
        signet
            .status()
            .into_iter()
            .find(|s| s.provider == provider)
            .and_then(|s| s.session)
    };
    let before = session();
    let _login = token_store::lock_provider(
        signet.paths(),
        &format!("{provider}.login"),
        SIGN_IN_LOCK_TIMEOUT,
    )?;
    let after = session();
    if after.is_some() && after != before {
        return Ok(false);
    }
    sign_in()?;
    Ok(true)
}
