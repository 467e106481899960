#!/bin/sh
# Install the Debian packages Lianka needs, when they are missing and we may.
# Usage: system-deps.sh PACKAGE...
set -eu
missing=""
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "lianka: please install these system packages:$missing" >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "lianka: missing system packages:$missing" >&2
    echo "lianka: run: sudo apt-get install -y$missing" >&2
    exit 0
fi
echo "lianka: installing system packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $missing >/dev/null
}
