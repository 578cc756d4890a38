#!/usr/bin/env bash
# The real-install test (CI runs it after scripts/test.sh): builds the packages (scripts/package.sh),
# checks them with Debian's validators, installs the .deb with apt-get, uses Signet with only the installed
# files (src-tauri/tests/installed_package.rs: sign-in, kubectl and the Python client through the exec entry,
# plugin lookup and completion, man page, the tray app from its desktop entry, start at login), and removes the
# package, checking that the person's files stay. It installs and removes a system package: run it on a
# throw-away machine (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
# The validators, man, and a venv for the Python client.
scripts/install-packages.sh test-install desktop-file-utils appstream lintian man-db python3-venv

package_paths=$(scripts/package.sh)
mapfile -t built <<<"$package_paths"
deb=${built[0]} tarball=${built[1]} checksum=${built[2]} manifest=${built[3]}
echo "test-install: built ${built[*]}" >&2

# The packages' metadata, as Debian's tools see it.
desktop-file-validate packaging/linux/dev.signet.Signet.desktop
appstreamcli validate --no-net --explain packaging/linux/dev.signet.Signet.metainfo.xml
# lintian: no errors (warnings are printed for the record). Running as root needs --allow-root.
lintian_args=(--fail-on error --tag-display-limit 0)
[ "$(id -u)" -ne 0 ] || lintian_args+=(--allow-root)
lintian "${lintian_args[@]}" "$deb"
dpkg-deb --field "$deb" Package Version Depends Recommends >&2

# The CLI tarball: checksum, krew's layout and manifest, and no GUI library linked.
(cd "$(dirname "$tarball")" && sha256sum --check --quiet "$(basename "$checksum")")
listing=$(tar -tzf "$tarball" | sort)
for f in ./kubectl-signet ./kubectl_complete-signet ./LICENSE; do
  grep -qx "$f" <<<"$listing" || { echo "test-install: $f missing from $tarball" >&2; exit 1; }
done
grep -q "sha256: $(cut -d' ' -f1 "$checksum")" "$manifest" || { echo "test-install: $manifest has another sha256" >&2; exit 1; }
grep -q "bin: kubectl-signet" "$manifest"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
tar -xzf "$tarball" -C "$unpacked"
for bin in kubectl-signet signet-cli; do
  if ldd "$unpacked/$bin" | grep -Ei 'gtk|webkit|appindicator|gdk|soup|javascriptcore'; then
    echo "test-install: the CLI tarball's $bin links GUI libraries" >&2
    exit 1
  fi
done
# The front binary runs the full CLI beside it (`--version` is not the exec entry).
"$unpacked/kubectl-signet" --version

# The Python client for the second-client check (from PyPI), then the suite against the installed package.
venv=target/install-test/venv
# (Made again when it does not work, e.g. after the tree moved: a venv's scripts hold absolute paths.)
"$venv/bin/python" -m pip --version >/dev/null 2>&1 || python3 -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'kubernetes>=30,<36'
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
SIGNET_TEST_PYTHON="$PWD/$venv/bin/python" cargo test --locked -p signet --test installed_package -- --nocapture
echo "test-install: passed" >&2
