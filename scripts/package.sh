#!/usr/bin/env bash
# Builds Signet's packages from this tree on Debian 12 and prints the paths it wrote (one per line, on stdout):
#   target/package/signet_<version>-1_amd64.deb          the tray app, kubectl-signet, desktop entry, icons,
#                                                         AppStream metainfo, man pages, shell completions
#   target/package/kubectl-signet_<version>_linux_amd64.tar.gz (+ .sha256)
#                                                         the CLI alone, for machines without a desktop (krew layout)
#   target/package/signet.yaml                            the krew plugin manifest for that tarball
# Installs what it needs (like scripts/setup.sh). Nothing downloads except through apt, npm and crates.io.
# The .deb is made by cargo-deb: it packages prebuilt binaries of a workspace exactly as listed in
# src-tauri/Cargo.toml [package.metadata.deb], and fills Depends from the libraries they link.
# No AppImage: its tooling is downloaded from GitHub at build time, which this build does not allow.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2

# dpkg-shlibdeps (dpkg-dev) computes the .deb's Depends from the binaries.
scripts/install-packages.sh package dpkg-dev
if ! cargo deb --version >/dev/null 2>&1; then
  echo "package: cargo install cargo-deb --locked" >&2
  cargo install cargo-deb --locked --version '^3'
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || { echo "package: no workspace version in Cargo.toml" >&2; exit 1; }
newest_release=$(sed -n 's/.*<release version="\([^"]*\)".*/\1/p' packaging/linux/dev.signet.Signet.metainfo.xml | head -n1)
if [ "$newest_release" != "$version" ]; then
  echo "package: the newest <release> in packaging/linux/dev.signet.Signet.metainfo.xml is '$newest_release'," \
    "the workspace version is '$version': add a <release version=\"$version\"> entry first" >&2
  exit 1
fi
if ! head -n1 packaging/debian/changelog | grep -q "^signet ($version-"; then
  echo "package: packaging/debian/changelog does not start with version $version-…: add an entry first" >&2
  exit 1
fi

# Reproducible archives and man pages: timestamps from the last commit.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

# The CLI on its own, so that no feature of the tray app's dependencies leaks into it (the release
# profile in Cargo.toml: LTO, one codegen unit, stripped). Then the tray app with its front end embedded.
echo "package: building kubectl-signet (release)" >&2
cargo build --release --locked -p kubectl-signet --bin kubectl-signet --bin signet-cli --bin kubectl-signet-assets >&2
echo "package: building signet (release, front end embedded)" >&2
cargo build --release --locked -p signet --features custom-protocol >&2

assets=target/release/assets
rm -rf "$assets"
target/release/kubectl-signet-assets "$assets" >/dev/null
gzip -9n "$assets"/man/*.1
gzip -9nc packaging/linux/signet.1 >"$assets/signet.1.gz"

out=target/package
mkdir -p "$out"
rm -f "$out"/signet_*.deb "$out"/kubectl-signet_*.tar.gz* "$out"/signet.yaml
deb=$(cargo deb -p signet --no-build --no-strip --locked --output "$out" 2>/dev/null | tail -n1)
[ -f "$deb" ] || { echo "package: cargo deb wrote no package" >&2; exit 1; }

# The CLI tarball, as krew unpacks it: the plugin, its completion hook and the licence at the top.
name="kubectl-signet_${version}_linux_amd64"
stage="$out/$name"
rm -rf "$stage"
mkdir -p "$stage"
install -m 755 target/release/kubectl-signet target/release/signet-cli packaging/linux/kubectl_complete-signet "$stage/"
install -m 644 LICENSE README.md "$stage/"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -C "$stage" -czf "$out/$name.tar.gz" .
rm -rf "$stage"
(cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
sha=$(cut -d' ' -f1 "$out/$name.tar.gz.sha256")
sed -e "s/@VERSION@/$version/g" -e "s/@SHA256@/$sha/g" -e "s/@ARCHIVE@/$name.tar.gz/g" \
  packaging/krew/signet.yaml.in >"$out/signet.yaml"

echo "$deb"
echo "$out/$name.tar.gz"
echo "$out/$name.tar.gz.sha256"
echo "$out/signet.yaml"
