#!/usr/bin/env bash
# Install what sitecycle's demo and tests need on a fresh Debian 12 machine (run as root),
# then the npm packages. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in apache2 apache2-utils libapache2-mod-wsgi-py3 python3 python3-venv python3-pip python3-build \
           python3-setuptools python3-wheel openssh-server openssh-client rsync curl wrk git ca-certificates \
           postgresql mariadb-server mariadb-client sqlite3 python3-aiosmtpd zstd python3-pyflakes strace; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then echo "setup: run as root (apt-get install is needed)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian starts nothing by itself here (no systemd): the tests start their own Apache and sshd.
mkdir -p /run/sshd

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then echo "setup: Node.js 20 or newer is needed (found $(node --version))" >&2; exit 1; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  # npm 11.19 may reject its own lock file (optional platform packages of rollup missing from
  # it); then install from package.json with the lock file as a guide, without rewriting it.
  if ! npm ci --no-audit --no-fund --loglevel=error 2>/tmp/sitecycle-npm-ci.log; then
    echo "setup: npm ci refused the lock file ($(grep -m1 'npm error' /tmp/sitecycle-npm-ci.log || true)); npm install instead" >&2
    npm install --no-audit --no-fund --no-save --loglevel=error
  fi
fi
