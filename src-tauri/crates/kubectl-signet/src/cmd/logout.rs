//! `logout`: forget a provider's tokens, revoking them where the provider allows (Dex does not).

use signet_core::session::Revocation;

use super::engine;
use crate::output::Failure;

pub fn run(provider: &str) -> Result<(), Failure> {
    let signet = engine()?;
    let outcome = signet.logout(provider)?;
    let detail = match outcome {
        Revocation::Revoked => "the refresh token was revoked at the identity provider".to_string(),
        Revocation::NotOffered => {
            "the identity provider offers no revocation (Dex does not), so the tokens were forgotten here".to_string()
        }
        Revocation::NoSession => "there was no session".to_string(),
        Revocation::Failed(why) => format!("revocation failed ({why}); the tokens were still forgotten here"),
    };
    println!("Signed out of {provider}: {detail}.");
    Ok(())
}
