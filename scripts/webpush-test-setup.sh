#!/usr/bin/env bash
# Installs the independent Web Push implementation the Web Push tests check mfa-server against:
# Python http_ece (RFC 8188/8291 decryption) and py_vapid (RFC 8292 VAPID) with cryptography,
# from PyPI, pinned, in a virtualenv (server/tests/webpush.rs, docs/push-service.md).
#
#   scripts/webpush-test-setup.sh            # venv in /opt/pam_mfa-test/webpush-venv
#   scripts/webpush-test-setup.sh --check    # only say (exit status) whether it is installed
#   MFA_WEBPUSH_VENV=/path scripts/webpush-test-setup.sh
#
# Idempotent: a venv that already has the pinned versions is left as it is. Needs Debian's
# python3 and python3-venv.
set -euo pipefail

HTTP_ECE_VERSION=1.2.1
PY_VAPID_VERSION=1.9.6
CRYPTOGRAPHY_VERSION=50.0.2
venv=${MFA_WEBPUSH_VENV:-/opt/pam_mfa-test/webpush-venv}
python=${MFA_WEBPUSH_PYTHON:-/usr/bin/python3}

installed() {
  [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" - "$HTTP_ECE_VERSION" "$PY_VAPID_VERSION" "$CRYPTOGRAPHY_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
want = tuple(sys.argv[1:])
sys.exit(0 if (version("http_ece"), version("py_vapid"), version("cryptography")) == want else 1)
PY
}

# --check: exit 0 when the pinned versions are installed, 1 when not; nothing is changed.
if [ "${1:-}" = --check ]; then installed; exit; fi
if installed; then
  echo "webpush-test-setup: http_ece $HTTP_ECE_VERSION, py_vapid $PY_VAPID_VERSION already in $venv"
  exit 0
fi
"$python" -c 'import venv, ensurepip' 2>/dev/null || {
  echo "webpush-test-setup: $python cannot make a virtualenv. Debian: apt-get install python3-venv" >&2
  exit 1
}
start=$(date +%s)
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --only-binary=cryptography \
  "http-ece==$HTTP_ECE_VERSION" "py-vapid==$PY_VAPID_VERSION" "cryptography==$CRYPTOGRAPHY_VERSION"
installed || { echo "webpush-test-setup: install check failed in $venv" >&2; exit 1; }
echo "webpush-test-setup: http_ece $HTTP_ECE_VERSION, py_vapid $PY_VAPID_VERSION installed in $venv in $(( $(date +%s) - start )) s"
