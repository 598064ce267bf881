#!/usr/bin/env bash
# Installs privacyIDEA (from PyPI, pinned) into a virtualenv for the privacyIDEA backend's
# integration tests and benchmark (tests/tests/privacyidea.rs, docs/privacyidea.md).
#
#   scripts/privacyidea-setup.sh            # venv in /opt/pam_mfa-test/privacyidea-venv
#   scripts/privacyidea-setup.sh --check    # only say (exit status) whether it is installed
#   MFA_PRIVACYIDEA_VENV=/path scripts/privacyidea-setup.sh
#
# Idempotent: a venv that already has the pinned versions is left as it is. Needs Debian's
# python3 and python3-venv (Python 3.11 on Debian 12). The tests create their own database,
# keys, admin and server in a temporary directory; nothing here is configured or started.
set -euo pipefail

PRIVACYIDEA_VERSION=3.14
GUNICORN_VERSION=27.0.1
venv=${MFA_PRIVACYIDEA_VENV:-/opt/pam_mfa-test/privacyidea-venv}
python=${MFA_PRIVACYIDEA_PYTHON:-/usr/bin/python3}

installed() {
  [ -x "$venv/bin/pi-manage" ] && [ -x "$venv/bin/gunicorn" ] &&
    "$venv/bin/python" - "$PRIVACYIDEA_VERSION" "$GUNICORN_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("privacyidea"), version("gunicorn")) == (sys.argv[1], sys.argv[2]) else 1)
PY
}

# --check: exit 0 when the pinned versions are installed, 1 when not; nothing is changed.
if [ "${1:-}" = --check ]; then installed; exit; fi
if installed; then
  echo "privacyidea-setup: privacyIDEA $PRIVACYIDEA_VERSION already in $venv"
  exit 0
fi
"$python" -c 'import venv, ensurepip' 2>/dev/null || {
  echo "privacyidea-setup: $python cannot make a virtualenv. Debian: apt-get install python3-venv" >&2
  exit 1
}
start=$(date +%s)
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check \
  "privacyidea==$PRIVACYIDEA_VERSION" "gunicorn==$GUNICORN_VERSION"
installed || { echo "privacyidea-setup: install check failed in $venv" >&2; exit 1; }
echo "privacyidea-setup: privacyIDEA $PRIVACYIDEA_VERSION installed in $venv in $(( $(date +%s) - start )) s"
