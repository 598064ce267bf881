#!/usr/bin/env bash
# Build the .deb and .rpm packages and test them on THIS machine (root; CI runs it last):
#
#   sudo scripts/test-packages.sh
#
# It removes a from-source install (scripts/install.sh) first, moving an existing master key,
# state directory and configuration to /var/backups/pam_mfa-test-packages.<time>/, then
# installs, removes and purges the packages. Checks: lintian (no error or warning left), the
# .rpm's paths, modes, config files and scriptlets (rpm -qp), the installed files and modes,
# the master key, the pam-auth-update profile (enabled, checked, disabled again), logins through
# the installed module, a login and `mfa-enroll status` as an unprivileged user through the
# installed setuid helper (a throwaway user in scripts/sandbox.sh: the host's /etc is not
# changed), a dpkg-statoverride on the helper kept across a reinstall, and what stays after
# remove and goes with purge.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
[ "$(id -u)" -eq 0 ] || { echo "test-packages.sh: run as root" >&2; exit 1; }
start=$SECONDS
fail() { echo "test-packages.sh: FAILED: $*" >&2; exit 1; }
pass() { echo "  ok: $*"; }
# mode_is PATH MODE: PATH exists, is owned by root:root and has MODE (octal).
mode_is() {
  [ -e "$1" ] || fail "$1 is missing"
  local got
  got=$(stat -c '%a %U:%G' "$1")
  [ "$got" = "$2 root:root" ] || fail "$1: $got, want $2 root:root"
  pass "$1 $2 root:root"
}
gone() { [ ! -e "$1" ] || fail "$1 should be gone"; pass "$1 gone"; }

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
module=/usr/lib/$multiarch/security/pam_mfa.so
helper=/usr/lib/pam_mfa/mfa-helper  # the `helper` default of config/pam_mfa.toml
common_auth=/etc/pam.d/common-auth
user=pam-mfa-pkgtest            # enrolled during the test
user2=pam-mfa-pkgtest2          # enrolled too, for the authselect stack (codes are single-use)
stranger=pam-mfa-pkgtest-none   # never enrolled
self_user=pam-mfa-pkgtest-self  # exists only in a sandbox; logs in without root, via the helper
client=${CARGO_TARGET_DIR:-target}/debug/pam-test-client

echo "==> Tools"
need=()
for pkg in lintian rpm dpkg-dev binutils gzip man-db oathtool python3 libpam-runtime; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
for tool in cargo-deb cargo-generate-rpm; do
  command -v "$tool" >/dev/null || cargo install --locked --quiet "$tool"
done
echo "  tools ready after $((SECONDS - start)) s"

echo "==> Build (scripts/build-packages.sh)"
scripts/build-packages.sh
out=${CARGO_TARGET_DIR:-target}/packages
module_deb=$(ls "$out"/libpam-mfa_*.deb)
tool_deb=$(ls "$out"/mfa-enroll_*.deb)
rpm_file=$(ls "$out"/pam_mfa-*.rpm)
[ -x "$client" ] || cargo build --quiet -p mfa-tests --bin pam-test-client

echo "==> lintian"
# Errors and warnings fail; the ones that remain are overridden, each with its reason, in
# packaging/debian/lintian/ (lintian --show-overrides lists them).
lintian --fail-on error,warning --display-info "$module_deb" "$tool_deb"
pass "lintian: no error or warning"

echo "==> rpm queries"
rpm -qip "$rpm_file"
qf='[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]'
files=$(rpm -qp --qf "$qf" "$rpm_file")
echo "$files"
for want in \
  "-rwxr-xr-x root:root  /usr/lib64/security/pam_mfa.so" \
  "-rwxr-xr-x root:root  /usr/bin/mfa-enroll" \
  "-rwsr-xr-x root:root  $helper" \
  "-rw-r--r-- root:root cn /etc/pam_mfa/pam_mfa.toml" \
  "-rw-r--r-- root:root d /usr/share/man/man8/pam_mfa.8.gz" \
  "-rw-r--r-- root:root d /usr/share/man/man5/pam_mfa.toml.5.gz" \
  "-rw-r--r-- root:root d /usr/share/man/man1/mfa-enroll.1.gz" \
  "-rw-r--r-- root:root  /usr/share/bash-completion/completions/mfa-enroll" \
  "-rw-r--r-- root:root  /usr/share/zsh/site-functions/_mfa-enroll" \
  "-rw-r--r-- root:root  /usr/share/fish/vendor_completions.d/mfa-enroll.fish"; do
  grep -qxF -- "$want" <<<"$files" || fail "rpm: no '$want'"
done
pass "rpm: paths, modes, %config(noreplace) and %doc"
[ "$(rpm -qcp "$rpm_file")" = /etc/pam_mfa/pam_mfa.toml ] || fail "rpm: config files: $(rpm -qcp "$rpm_file")"
rpm -qp --scripts "$rpm_file"
for tag in POSTIN PREUN POSTUN; do
  script=$(rpm -qp --qf "%{$tag}" "$rpm_file")
  sh -n <<<"$script" || fail "rpm: %$tag is not valid sh"
done
rpm -qp --qf '%{POSTIN}' "$rpm_file" | grep -q '^/usr/bin/mfa-enroll init$' || fail "rpm: %post"
rpm -qp --qf '%{PREUN}' "$rpm_file" | grep -q 'authselect disable-feature with-mfa' || fail "rpm: %preun"
rpm -qp --qf '%{POSTUN}' "$rpm_file" | grep -q 'kept /etc/pam_mfa/master.key' || fail "rpm: %postun"
rpm -qp --requires "$rpm_file" | grep -q '^libpam.so.0()(64bit)$' || fail "rpm: no libpam requirement"
pass "rpm: scriptlets and requirements"

echo "==> Clearing the way: a from-source install and earlier test leftovers"
in_use=$(grep -lsw pam_mfa.so /etc/pam.d/* | grep -vx "$common_auth" || true)
[ -z "$in_use" ] || fail "pam_mfa.so is in PAM stacks here ($(echo $in_use)): not touching it"
! dpkg-statoverride --list "$helper" >/dev/null ||
  fail "dpkg-statoverride has an entry for $helper (dpkg-statoverride --remove $helper)"
backup=/var/backups/pam_mfa-test-packages.$(date +%Y%m%d%H%M%S)
for p in /etc/pam_mfa /var/lib/pam_mfa; do
  if [ -e "$p" ]; then
    mkdir -p -m 0700 "$backup"
    cp -a "$p" "$backup/$(echo "${p#/}" | tr / -)"   # etc-pam_mfa, var-lib-pam_mfa
    echo "  saved $p in $backup"
  fi
done
dpkg --purge libpam-mfa mfa-enroll >/dev/null 2>&1 || true
for f in /usr/local/bin/mfa-enroll "$module" "$helper"; do
  if [ -e "$f" ] && ! dpkg -S "$f" >/dev/null 2>&1; then rm -f "$f"; echo "  removed $f (install.sh)"; fi
done
rmdir "$(dirname "$helper")" 2>/dev/null || true
rm -rf /etc/pam_mfa /var/lib/pam_mfa
hash -r

echo "==> Install (dpkg -i)"
dpkg -i "$tool_deb" "$module_deb"
mode_is "$module" 644
mode_is /usr/bin/mfa-enroll 755
mode_is "$helper" 4755
mode_is /etc/pam_mfa/pam_mfa.toml 644
mode_is /etc/pam_mfa/master.key 600
[ "$(stat -c %s /etc/pam_mfa/master.key)" = 32 ] || fail "master key is not 32 bytes"
mode_is /var/lib/pam_mfa 700
mode_is /var/lib/pam_mfa/users 700
mode_is /var/lib/pam_mfa/locks 700
mode_is /usr/share/pam-configs/pam_mfa 644
dpkg-query -W -f='${Conffiles}\n' mfa-enroll | grep -q '^ /etc/pam_mfa/pam_mfa.toml ' ||
  fail "pam_mfa.toml is not a conffile"
cmp -s config/pam_mfa.toml /etc/pam_mfa/pam_mfa.toml || fail "installed pam_mfa.toml differs"
verify=$(dpkg --verify libpam-mfa mfa-enroll)
[ -z "$verify" ] || fail "dpkg --verify: $verify"
pass "conffile, md5sums (dpkg --verify)"
for page in man8/pam_mfa.8 man5/pam_mfa.toml.5 man1/mfa-enroll.1 man1/mfa-enroll-totp.1; do
  f=/usr/share/man/$page.gz
  [ -f "$f" ] || fail "$f is missing"
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "$f: $warnings"
done
pass "man pages render without warnings"
bash -n /usr/share/bash-completion/completions/mfa-enroll || fail "bash completion"
mode_is /usr/share/zsh/vendor-completions/_mfa-enroll 644
mode_is /usr/share/fish/vendor_completions.d/mfa-enroll.fish 644
/usr/bin/mfa-enroll --version

echo "==> pam-auth-update profile"
grep -qx pam_mfa /var/lib/pam/seen || fail "pam-auth-update --package did not register the profile"
! grep -q pam_mfa "$common_auth" || fail "the profile is enabled by default"
pass "profile registered, not enabled (Default: no)"
saved_auth=$(mktemp)
cp "$common_auth" "$saved_auth"
pamd=$(mktemp -d)
sandbox=$(mktemp -d)
cleanup() {
  if grep -q pam_mfa "$common_auth" 2>/dev/null; then pam-auth-update --package --remove pam_mfa || true; fi
  for u in "$user" "$user2" "$self_user"; do mfa-enroll --user "$u" remove --yes >/dev/null 2>&1 || true; done
  if dpkg-statoverride --list "$helper" >/dev/null 2>&1; then dpkg-statoverride --remove "$helper" || true; fi
  rm -rf "$pamd" "$saved_auth" "$sandbox"
}
trap cleanup EXIT
pam-auth-update --enable pam_mfa
line=$(grep -n 'pam_mfa\.so' "$common_auth") || fail "enabling the profile added nothing"
echo "  common-auth: $line"
permit=$(grep -n 'pam_permit\.so' "$common_auth" | cut -d: -f1)
[ "${line%%:*}" -gt "$permit" ] || fail "pam_mfa is not after the primary block (pam_permit, line $permit)"
grep -qP '^auth\trequired\t+pam_mfa\.so nullok$' "$common_auth" || fail "unexpected line: $line"
pass "enabled: 'auth required pam_mfa.so nullok' after the primary block"

echo "==> Logins through the installed module"
# The profile's line after a password module that succeeded (pam_permit stands in for pam_unix).
{ echo "auth required pam_permit.so"; grep -P '^auth\t.*pam_mfa\.so' "$common_auth"; } >"$pamd/profile"
# enroll USER: enrolls USER with the installed mfa-enroll and prints the TOTP secret.
enroll() {
  mfa-enroll --user "$1" totp --yes --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])'
}
code() { oathtool --totp --base32 "$1"; }
login() { "$client" --confdir "$pamd" --service "$1" --user "$2" --answer "$3"; }
secret=$(enroll "$user")
expect() { grep -q "\"name\":\"$1\"" <<<"$2" || fail "$3: want $1, got $2"; pass "$3: $1"; }
expect PAM_SUCCESS "$(login profile "$stranger" 123456)" "profile, user without enrollment"
expect PAM_AUTH_ERR "$(login profile "$user" 000000)" "profile, enrolled user, wrong code"
expect PAM_SUCCESS "$(login profile "$user" "$(code "$secret")")" "profile, enrolled user, valid code"
# The authselect "with-mfa" stack of docs/packaging.md; pam_permit/pam_deny stand in for pam_unix.
for password in pam_permit pam_deny; do
  printf '%s\n' "auth [success=ok new_authtok_reqd=ok default=2] $password.so" \
    "auth required pam_mfa.so nullok" "auth sufficient pam_permit.so" \
    "auth required pam_deny.so" >"$pamd/authselect-$password"
done
secret2=$(enroll "$user2")
expect PAM_SUCCESS "$(login authselect-pam_permit "$stranger" 123456)" "authselect, no enrollment"
expect PAM_AUTH_ERR "$(login authselect-pam_permit "$user2" 000000)" "authselect, wrong code"
expect PAM_SUCCESS "$(login authselect-pam_permit "$user2" "$(code "$secret2")")" "authselect, valid code"
result=$(login authselect-pam_deny "$user2" 000000)
expect PAM_AUTH_ERR "$result" "authselect, wrong password"
! grep -q 'Verification code' <<<"$result" || fail "authselect: code asked after a wrong password"
pass "authselect: no code prompt after a wrong password"
# The module by name, as scripts/install.sh's smoke test does.
scripts/smoke-installed.sh

echo "==> Without root: through the installed setuid helper"
# A user who exists only in a sandbox (scripts/sandbox.sh: /etc is an overlay in a private mount
# namespace, so the host's passwd is never changed). The installed pam_mfa.toml, store and helper
# are the real ones; sandbox.sh lays a copy of the installed module over the module directory.
getent passwd "$self_user" >/dev/null && fail "$self_user exists on this machine"
self_uid=4290
while getent passwd "$self_uid" >/dev/null || getent group "$self_uid" >/dev/null; do
  self_uid=$((self_uid + 1))
done
chmod 0711 "$sandbox"
scripts/sandbox.sh add-user "$sandbox" "$self_user" "$self_uid"
mkdir -p "$sandbox/etc.upper/pam.d"
printf 'auth required pam_mfa.so\n' >"$sandbox/etc.upper/pam.d/pam-mfa-pkgtest"
chmod 0644 "$sandbox/etc.upper/pam.d/pam-mfa-pkgtest"
install -m 0755 "$client" "$sandbox/pam-test-client"   # the checkout may not be readable to the user
in_sandbox() { scripts/sandbox.sh run "$sandbox" "$module" "$@"; }
as_self() { in_sandbox setpriv --reuid="$self_uid" --regid="$self_uid" --clear-groups -- "$@"; }
secret3=$(in_sandbox /usr/bin/mfa-enroll --user "$self_user" totp --yes --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
result=$(as_self "$sandbox/pam-test-client" --service pam-mfa-pkgtest --user "$self_user" \
  --answer "$(code "$secret3")")
expect PAM_SUCCESS "$result" "uid $self_uid, valid code, through $helper"
status=$(as_self /usr/bin/mfa-enroll status)
grep -q "^$self_user: enrolled" <<<"$status" || fail "mfa-enroll status without root: $status"
pass "mfa-enroll status without root: $self_user: enrolled"

echo "==> dpkg-statoverride on the helper"
# An administrator's override (here: setuid off) is applied by dpkg itself when it unpacks the
# file, so an upgrade or reinstall keeps it; without the setuid bit, self-service says why.
dpkg-statoverride --add root root 0755 "$helper"
dpkg -i "$tool_deb" >/dev/null
mode_is "$helper" 755
status=$(as_self /usr/bin/mfa-enroll status 2>&1) && fail "self-service worked without setuid: $status"
grep -q 'setuid root' <<<"$status" || fail "no hint at the missing setuid bit: $status"
result=$(as_self "$sandbox/pam-test-client" --service pam-mfa-pkgtest --user "$self_user" \
  --answer "$(code "$secret3")")
expect PAM_AUTHINFO_UNAVAIL "$result" "uid $self_uid, helper not setuid"
pass "override kept by a reinstall; without setuid: $(tail -n 1 <<<"$status")"
dpkg-statoverride --remove "$helper"
dpkg -i "$tool_deb" >/dev/null
mode_is "$helper" 4755

echo "==> Remove (dpkg -r), with the profile enabled"
common_auth_before=$(grep -c . "$common_auth")
dpkg -r libpam-mfa mfa-enroll
! grep -q pam_mfa "$common_auth" || fail "common-auth still names pam_mfa after remove"
cmp -s "$saved_auth" "$common_auth" || fail "common-auth changed: $(diff "$saved_auth" "$common_auth")"
pass "prerm took the module out of common-auth ($common_auth_before lines before)"
gone "$module"
gone /usr/bin/mfa-enroll
gone "$helper"
gone "$(dirname "$helper")"
gone /usr/share/pam-configs/pam_mfa
mode_is /etc/pam_mfa/pam_mfa.toml 644
mode_is /etc/pam_mfa/master.key 600
mode_is /var/lib/pam_mfa/users 700
[ -f "/var/lib/pam_mfa/users/$user" ] || fail "the enrollment of $user did not survive remove"
pass "configuration, master key and enrollments kept"
# libpam-mfa has no conffiles, so remove left nothing of it for purge.
case $(dpkg-query -W -f='${Status}' libpam-mfa 2>/dev/null || true) in
  "" | *not-installed) pass "libpam-mfa fully removed" ;;
  *) fail "libpam-mfa left after remove" ;;
esac

echo "==> Purge (dpkg -P)"
purge_log=$(dpkg -P mfa-enroll 2>&1)
echo "$purge_log"
grep -q 'enrollment on this machine is lost' <<<"$purge_log" || fail "purge did not warn"
gone /etc/pam_mfa
gone /var/lib/pam_mfa
! dpkg-query -W -f='${Status}' mfa-enroll 2>/dev/null | grep -q 'config-files' ||
  fail "mfa-enroll still has config files"
pass "purge: configuration, master key and enrollments deleted, with a warning"

echo "package tests passed in $((SECONDS - start)) s"
