#!/usr/bin/env bash
# Installs the system packages the test suite and the demo need (Debian/Ubuntu):
# PostgreSQL (a throwaway server per test run), Chromium (dashboard browser tests),
# xmlsec1 (SAML signatures), Node.js and npm (the independent OpenID provider the
# SSO tests run against), openssl (the independent .pkpass signature check).
# As root it installs what is missing; otherwise it names what to install.
set -euo pipefail

need=()
have_pg() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
have_pg || need+=(postgresql)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (install them, e.g. sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
