#!/usr/bin/env bash
# After scripts/install.sh: enroll a throwaway user with the installed mfa-enroll, log in through
# the installed pam_mfa.so (found by name in the system's module directory, with the installed
# /etc/pam_mfa configuration) using the PAM test client, then remove the user's enrollment.
# scripts/test-packages.sh runs it too, against the installed .deb packages.
set -euo pipefail
cd "$(dirname "$0")/.."
# A throwaway system user with a fresh name (pam_mfa refuses names that are not accounts).
user=pam-mfa-smoke-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
client=${CARGO_TARGET_DIR:-target}/debug/pam-test-client
[ -x "$client" ] || cargo build -p mfa-tests --bin pam-test-client
pamd=$(mktemp -d)
useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
trap 'rm -rf "$pamd"; mfa-enroll --user "$user" remove --yes >/dev/null 2>&1 || true; userdel "$user"' EXIT
printf 'auth required pam_mfa.so\n' > "$pamd/smoke"

secret=$(mfa-enroll --user "$user" totp --yes --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
code=$(oathtool --totp --base32 "$secret")
ok=$("$client" --confdir "$pamd" --service smoke --user "$user" --answer "$code")
bad=$("$client" --confdir "$pamd" --service smoke --user "$user" --answer "$code")
echo "first login:  $ok"
echo "replayed code: $bad"
echo "$ok" | grep -q '"name":"PAM_SUCCESS"' || { echo "smoke: login with a valid code failed" >&2; exit 1; }
echo "$bad" | grep -q '"name":"PAM_AUTH_ERR"' || { echo "smoke: replayed code was not refused" >&2; exit 1; }
echo "smoke test of the installed module passed: valid code accepted, replayed code refused"
