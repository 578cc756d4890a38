#!/usr/bin/env bash
# Regenerates src-tauri/crates/kubectl-signet/hot-symbols.txt: the functions of `kubectl-signet` that
# `kubectl-signet token --cluster prod` runs when it serves a fresh cached token, which the release link
# puts side by side (build.rs). Run it after a Rust toolchain or dependency update, or a change to the
# token path: the list names symbols, and a symbol that no longer exists is skipped, so a stale list
# silently loses the gain (scripts/bench.sh shows it as a worse ratio to the floor).
#
# How: links kubectl-signet with its symbols (same code, same symbol names as the release build), signs in
# a benchmark world (signet-bench --keep), runs `token` once under valgrind's callgrind and lists every
# function of the binary that ran. Needs what scripts/bench.sh needs, plus valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
scripts/install-packages.sh hot-symbols valgrind
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -p signet-tests --bins >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
plugin="$work/kubectl-signet"
main=src-tauri/crates/kubectl-signet/src/main.rs

# The symbols of the release build: a rustc wrapper links kubectl-signet with `-C strip=none` instead of
# `-C strip=symbols`. (`cargo rustc -- -C strip=none` would not do: cargo mixes extra arguments into the
# crate's metadata, which changes the names of kubectl-signet's own functions.) At the end, the stripped
# build again, with the new list, so that no unstripped binary is left for packaging.
cat >"$work/rustc-wrapper" <<'WRAPPER'
#!/usr/bin/env bash
if [[ " $* " == *" --crate-name kubectl_signet "* && " $* " == *" --crate-type bin "* ]]; then
  args=()
  for a in "$@"; do [ "$a" = strip=symbols ] && a=strip=none; args+=("$a"); done
  set -- "${args[@]}"
fi
exec "$@"
WRAPPER
chmod +x "$work/rustc-wrapper"
touch "$main"
RUSTC_WRAPPER="$work/rustc-wrapper" cargo build --release --locked -p kubectl-signet --bin kubectl-signet >&2
cp "$target/release/kubectl-signet" "$plugin"
"$target/release/signet-bench" --plugin "$plugin" --runs 3 --kubectl-runs 1 --use-runs 1 --keep \
  >"$work/bench.txt"
# The last line runs the plugin in the kept world: env -i … <plugin> token --cluster prod
run=$(tail -n1 "$work/bench.txt")
kept=$(sed -n 's/^kept \(.*\); to run the plugin in it:$/\1/p' "$work/bench.txt")
[ -n "$kept" ] || { echo "hot-symbols: signet-bench kept no world" >&2; exit 1; }
trap 'rm -rf "$work" "$kept"' EXIT
eval "${run/ $plugin / valgrind -q --tool=callgrind --callgrind-out-file=$work/callgrind.out --demangle=no $plugin }" >/dev/null

# callgrind names objects (ob=, cob=) and functions (fn=, cfn=) once, as "(id) name", then by "(id)"
# (two numberings).
awk -v bin="$plugin" '
  function name(table, s,   id) {
    id = s; sub(/ .*/, "", id)
    if (index(s, " ")) table[id] = substr(s, index(s, " ") + 1)
    return table[id]
  }
  /^ob=/ { object = name(objects, substr($0, 4)); next }
  /^cob=/ { name(objects, substr($0, 5)); next }
  /^cfn=/ { name(functions, substr($0, 5)); next }
  /^fn=/ { f = name(functions, substr($0, 4)); if (object == bin && f !~ /^0x|^\(below main\)$/) print f }
' "$work/callgrind.out" | sort -u >src-tauri/crates/kubectl-signet/hot-symbols.txt
echo "hot-symbols: $(wc -l <src-tauri/crates/kubectl-signet/hot-symbols.txt) functions in src-tauri/crates/kubectl-signet/hot-symbols.txt" >&2
touch "$main"
cargo build --release --locked -p kubectl-signet --bin kubectl-signet >&2
