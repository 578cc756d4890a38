//! The names an import chooses: sanitised to `[a-z0-9-]` and made unique.

/// Lower-case `[a-z0-9-]`, runs of anything else folded into one `-`, no leading or trailing `-`.
pub fn sanitize(name: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            out.push(ch);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// A provider name from the issuer's host: `https://dex.example.com/dex` → `dex-example-com`.
pub(super) fn provider_base_name(issuer: &str) -> String {
    let host = url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    sanitize(&host, "provider")
}

/// `base`, else `base-2`, `base-3`, … : the first name `taken` refuses.
pub(super) fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| base.to_owned())
}
