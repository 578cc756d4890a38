//! Switching clusters: `current-context` and the namespace of a Signet context, spliced into the text when
//! the files allow it (the `fast` module), else through a full parse.

use std::path::Path;

use kube::config::{Context, NamedContext};

use super::chain::{Chain, RawFile, edit_locked};
use super::entry::{Entry, signet_mark};
use super::{EditOutcome, EntryKind, KubeconfigError, KubeconfigTarget, fast, lock};

/// Makes `context` the current context and, when `namespace` is given, sets its namespace (`Some("")`
/// clears it).
///
/// > Setting `current-context` writes to the default file. (client-go `writeCurrentContext`)
///
/// The namespace is written to the file the context lives in, and only on a Signet-owned context. Nothing is
/// written when both are already as asked, or when the namespace is not an RFC 1123 label.
pub fn use_context(
    target: &KubeconfigTarget,
    context: &str,
    namespace: Option<&str>,
) -> Result<EditOutcome, KubeconfigError> {
    if let Some(namespace) = namespace.filter(|n| !n.is_empty()) {
        crate::names::check(crate::names::NameKind::Namespace, namespace)?;
    }
    let _locks = lock::LockSet::acquire(target.precedence(), target.lock_timeout())?;
    if let Some(outcome) = use_context_in_place(target, context, namespace)? {
        return Ok(outcome);
    }
    edit_locked(target, |chain| {
        use_context_parsed(chain, context, namespace)
    })
    .map(|((), outcome)| outcome)
}

/// [`use_context`] on fully parsed files: handles every valid kubeconfig.
pub(super) fn use_context_parsed(
    chain: &mut Chain,
    context: &str,
    namespace: Option<&str>,
) -> Result<(), KubeconfigError> {
    let (fi, ei) = chain
        .locate::<NamedContext>(context)
        .ok_or_else(|| not_found_context(context))?;
    if let Some(namespace) = namespace {
        let file = &mut chain.files[fi];
        let entry = &mut file.config.contexts[ei];
        if signet_mark(entry.extensions()).is_none() {
            return Err(not_owned_context(context, &file.raw.path));
        }
        let wanted = (!namespace.is_empty()).then(|| namespace.to_owned());
        let ctx = entry.context.get_or_insert_with(Context::default);
        if ctx.namespace != wanted {
            ctx.namespace = wanted;
            file.dirty = true;
        }
    }
    if chain.current_context() != Some(context) {
        let file = &mut chain.files[chain.default];
        file.config.current_context = Some(context.to_owned());
        file.dirty = true;
    }
    Ok(())
}

/// [`use_context`] by splicing two scalars into the files' text (see the `fast` module); `Ok(None)` when
/// some file has a shape that needs the full path. Decides exactly as [`use_context_parsed`] does.
pub(super) fn use_context_in_place(
    target: &KubeconfigTarget,
    context: &str,
    namespace: Option<&str>,
) -> Result<Option<EditOutcome>, KubeconfigError> {
    if namespace == Some("") {
        return Ok(None); // clearing removes a line: the full path does that
    }
    let mut files = Vec::with_capacity(target.precedence().len());
    for path in target.precedence() {
        let raw = RawFile::read(path)?;
        let skim = match raw.text() {
            Some(text) => match fast::skim(text, context) {
                Some(skim) => Some(skim),
                None => return Ok(None),
            },
            None => None,
        };
        files.push((raw, skim, Vec::new()));
    }
    let Some(fi) = files
        .iter()
        .position(|(_, skim, _)| skim.as_ref().is_some_and(|s| s.context.is_some()))
    else {
        return Err(not_found_context(context));
    };
    if let Some(namespace) = namespace {
        let (raw, skim, splices) = &mut files[fi];
        let Some(found) = skim.as_ref().and_then(|s| s.context.as_ref()) else {
            return Ok(None);
        };
        if !found.signet {
            return Err(not_owned_context(context, &raw.path));
        }
        if found.namespace.as_deref() != Some(namespace) {
            match found.set_namespace(namespace) {
                Some(splice) => splices.push(splice),
                None => return Ok(None),
            }
        }
    }
    let current = files
        .iter()
        .find_map(|(_, skim, _)| skim.as_ref()?.current.as_deref());
    if current != Some(context) {
        let exists: Vec<bool> = files
            .iter()
            .map(|(raw, ..)| raw.original.is_some())
            .collect();
        let (_, skim, splices) = &mut files[target.default_index(&exists)];
        // A missing default file has to be created with a header: the full path does that.
        match skim.as_ref().and_then(|s| s.set_current(context)) {
            Some(splice) => splices.push(splice),
            None => return Ok(None),
        }
    }
    let mut outcome = EditOutcome::default();
    for (raw, _, splices) in files {
        if splices.is_empty() {
            continue;
        }
        let Some(text) = raw.text() else {
            return Ok(None);
        };
        let updated = fast::apply(text, splices);
        raw.write(&updated, false, &mut outcome)?;
    }
    Ok(Some(outcome))
}

fn not_found_context(context: &str) -> KubeconfigError {
    KubeconfigError::NotFound {
        kind: EntryKind::Context,
        name: context.to_owned(),
    }
}

fn not_owned_context(context: &str, path: &Path) -> KubeconfigError {
    KubeconfigError::NotSignetOwned {
        kind: EntryKind::Context,
        name: context.to_owned(),
        path: path.to_path_buf(),
        owner: None,
    }
}
