#!/usr/bin/env bash
# Usage: scripts/install-packages.sh <who> <debian package>...
# Installs, with apt-get (as root or through sudo), those of the packages that are not installed yet, and
# says so on stderr as "<who>: installing …". A no-op when all are there. Used by setup.sh, package.sh and
# test-install.sh.
set -euo pipefail
who=$1
shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "$who: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
