//! Link layout of the shipped `kubectl-signet` (DESIGN.md §8: `token` from the cache ≤ 1.15× the floor).
//!
//! kubectl runs `kubectl-signet token` once per kubectl process, and most of that process's time is the
//! kernel loading its image. The functions the cached-token path runs are spread over 8.5 MB of code, one
//! page fault each; `hot-symbols.txt` lists them (from `scripts/hot-symbols.sh`) and the linker puts them
//! first, side by side, which saves about 20 of 140 page faults. A stale list costs nothing but that gain:
//! symbols the linker does not find are skipped.
//!
//! Only the release build of the `kubectl-signet` binary, and only for x86_64-unknown-linux-gnu, whose
//! default linker (rust-lld, through `cc -fuse-ld=lld`) knows `--symbol-ordering-file`.

fn main() {
    let list = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hot-symbols.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if release && target == "x86_64-unknown-linux-gnu" {
        println!(
            "cargo:rustc-link-arg-bin=kubectl-signet=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bin=kubectl-signet=-Wl,--no-warn-symbol-ordering");
    }
}
