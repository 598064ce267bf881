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
# remove and goes with purge. Then the same for the push service's mfa-server .deb: files, user,
# conffile, man pages, unit (systemd-analyze verify), no start before it is configured, the
# documented setup (tls-init, host add, as the service user), the unit's ExecStart as that user
# (under systemd if this machine runs it, else through setpriv), /v2/health over TLS with the
# generated CA, a device paired with the installed mfa-push-device, then remove and purge.
# Last, the documented package path as written (scripts/test-docs.sh --package).
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
# Host users made for the test with fresh names (pam_mfa refuses names that are not accounts);
# removed again on exit.
tag=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
user=pam-mfa-pkgtest-$tag        # enrolled during the test
user2=pam-mfa-pkgtest2-$tag      # enrolled too, for the authselect stack (codes are single-use)
stranger=pam-mfa-pkgtest-none-$tag  # never enrolled
self_user=pam-mfa-pkgtest-self  # exists only in a sandbox; logs in without root, via the helper
client=${CARGO_TARGET_DIR:-target}/debug/pam-test-client

echo "==> Tools"
need=()
for pkg in lintian rpm dpkg-dev binutils gzip man-db oathtool python3 libpam-runtime curl; do
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
pushd_deb=$(ls "$out"/mfa-server_*.deb)
pushd_rpm=$(ls "$out"/mfa-server-*.rpm)
[ -x "$client" ] || cargo build --quiet -p mfa-tests --bin pam-test-client

echo "==> lintian"
# Errors and warnings fail; the ones that remain are overridden, each with its reason, in
# packaging/debian/lintian/ (lintian --show-overrides lists them).
lintian --fail-on error,warning --display-info "$module_deb" "$tool_deb" "$pushd_deb"
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
! grep -q 'mfa-push' <<<"$files" || fail "rpm: pam_mfa holds mfa-server files"
pass "rpm: scriptlets and requirements"
rpm -qip "$pushd_rpm"
files=$(rpm -qp --qf "$qf" "$pushd_rpm")
echo "$files"
for want in \
  "-rwxr-xr-x root:root  /usr/bin/mfa-server" \
  "-rwxr-xr-x root:root  /usr/bin/mfa-push-device" \
  "-rw-r--r-- root:root cn /etc/mfa-server/mfa-server.toml" \
  "-rw-r--r-- root:root  /usr/lib/systemd/system/mfa-server.service" \
  "-rw-r--r-- root:root d /usr/share/man/man8/mfa-server.8.gz" \
  "-rw-r--r-- root:root d /usr/share/man/man8/mfa-server-host-add.8.gz" \
  "-rw-r--r-- root:root d /usr/share/man/man1/mfa-push-device.1.gz" \
  "-rw-r--r-- root:root  /usr/share/zsh/site-functions/_mfa-server" \
  "-rw-r--r-- root:root  /usr/share/fish/vendor_completions.d/mfa-push-device.fish"; do
  grep -qxF -- "$want" <<<"$files" || fail "rpm mfa-server: no '$want'"
done
[ "$(rpm -qcp "$pushd_rpm")" = /etc/mfa-server/mfa-server.toml ] || fail "rpm mfa-server: config files"
for tag in PREIN POSTIN PREUN POSTUN; do
  script=$(rpm -qp --qf "%{$tag}" "$pushd_rpm")
  sh -n <<<"$script" || fail "rpm mfa-server: %$tag is not valid sh"
done
rpm -qp --qf '%{PREIN}' "$pushd_rpm" | grep -q 'useradd -r ' || fail "rpm mfa-server: %pre creates no user"
rpm -qp --qf '%{PREUN}' "$pushd_rpm" | grep -q 'disable --now mfa-server.service' || fail "rpm mfa-server: %preun"
pass "rpm mfa-server: paths, modes, %config(noreplace), scriptlets"

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
pushd_pid=
pushd_systemd=
cleanup() {
  if [ -n "$pushd_systemd" ]; then systemctl stop mfa-server 2>/dev/null || true
  elif [ -n "$pushd_pid" ]; then kill "$pushd_pid" 2>/dev/null || true; fi
  if grep -q pam_mfa "$common_auth" 2>/dev/null; then pam-auth-update --package --remove pam_mfa || true; fi
  for u in "$user" "$user2" "$self_user"; do mfa-enroll --user "$u" remove --yes >/dev/null 2>&1 || true; done
  for u in "$user" "$user2" "$stranger"; do userdel "$u" 2>/dev/null || true; done
  if dpkg-statoverride --list "$helper" >/dev/null 2>&1; then dpkg-statoverride --remove "$helper" || true; fi
  rm -rf "$pamd" "$saved_auth" "$sandbox"
}
trap cleanup EXIT
for u in "$user" "$user2" "$stranger"; do useradd --system --no-create-home --shell /usr/sbin/nologin "$u"; done
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
# The helper serves only the services in helper_services (default: screen lockers): the test
# stack is vlock's, inside the sandbox.
printf 'auth required pam_mfa.so\n' >"$sandbox/etc.upper/pam.d/vlock"
chmod 0644 "$sandbox/etc.upper/pam.d/vlock"
install -m 0755 "$client" "$sandbox/pam-test-client"   # the checkout may not be readable to the user
in_sandbox() { scripts/sandbox.sh run "$sandbox" "$module" "$@"; }
as_self() { in_sandbox setpriv --reuid="$self_uid" --regid="$self_uid" --clear-groups -- "$@"; }
secret3=$(in_sandbox /usr/bin/mfa-enroll --user "$self_user" totp --yes --json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
result=$(as_self "$sandbox/pam-test-client" --service vlock --user "$self_user" \
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
result=$(as_self "$sandbox/pam-test-client" --service vlock --user "$self_user" \
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

echo "==> mfa-server: clearing the way"
pushd_start=$SECONDS
pushd_unit=/usr/lib/systemd/system/mfa-server.service
pushd_conf=/etc/mfa-server/mfa-server.toml
for p in /etc/mfa-server /var/lib/mfa-server; do
  if [ -e "$p" ]; then
    mkdir -p -m 0700 "$backup"
    cp -a "$p" "$backup/$(echo "${p#/}" | tr / -)"   # etc-mfa-server, var-lib-mfa-server
    echo "  saved $p in $backup"
  fi
done
if [ -d /run/systemd/system ]; then systemctl stop mfa-server 2>/dev/null || true; fi
dpkg --purge mfa-server >/dev/null 2>&1 || true
rm -rf /etc/mfa-server /var/lib/mfa-server /var/log/mfa-server

echo "==> mfa-server: install (dpkg -i)"
install_log=$(dpkg -i "$pushd_deb" 2>&1) || fail "dpkg -i $pushd_deb: $install_log"
echo "$install_log"
grep -q 'installed but not enabled' <<<"$install_log" || fail "postinst did not say how to start it"
mode_is /usr/bin/mfa-server 755
mode_is /usr/bin/mfa-push-device 755
mode_is "$pushd_conf" 644
mode_is "$pushd_unit" 644
dpkg-query -W -f='${Conffiles}\n' mfa-server | grep -q "^ $pushd_conf " || fail "$pushd_conf is not a conffile"
cmp -s config/mfa-server.toml "$pushd_conf" || fail "installed mfa-server.toml differs"
verify=$(dpkg --verify mfa-server)
[ -z "$verify" ] || fail "dpkg --verify mfa-server: $verify"
pass "conffile, md5sums (dpkg --verify)"
IFS=: read -r _ _ svc_uid svc_gid _ svc_home svc_shell < <(getent passwd mfa-server) ||
  fail "no user mfa-server"
[ "$svc_uid" -lt 1000 ] && [ "$svc_shell" = /usr/sbin/nologin ] && [ "$svc_home" = /var/lib/mfa-server ] ||
  fail "mfa-server is not a system user: uid $svc_uid, shell $svc_shell, home $svc_home"
[ "$(getent group mfa-server | cut -d: -f3)" = "$svc_gid" ] || fail "no group mfa-server"
pass "system user mfa-server (uid $svc_uid, nologin) and its group"
# owned_is PATH MODE: PATH belongs to mfa-server:mfa-server with MODE.
owned_is() {
  local got
  got=$(stat -c '%a %U:%G' "$1") || fail "$1 is missing"
  [ "$got" = "$2 mfa-server:mfa-server" ] || fail "$1: $got, want $2 mfa-server:mfa-server"
  pass "$1 $2 mfa-server:mfa-server"
}
owned_is /var/lib/mfa-server 700
owned_is /var/log/mfa-server 750
owned_is /etc/mfa-server/tls 700
for page in man8/mfa-server.8 man8/mfa-server-tls-init.8 man8/mfa-server-host-add.8 \
  man1/mfa-push-device.1 man1/mfa-push-device-pair.1; do
  f=/usr/share/man/$page.gz
  [ -f "$f" ] || fail "$f is missing"
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "$f: $warnings"
done
man -w mfa-server >/dev/null || fail "man mfa-server: not found"
pass "man pages render without warnings"
for c in mfa-server mfa-push-device; do
  bash -n "/usr/share/bash-completion/completions/$c" || fail "bash completion of $c"
  mode_is "/usr/share/zsh/vendor-completions/_$c" 644
  mode_is "/usr/share/fish/vendor_completions.d/$c.fish" 644
done
/usr/bin/mfa-server --version
/usr/bin/mfa-push-device --version

echo "==> mfa-server: the systemd unit"
for want in User=mfa-server Group=mfa-server StateDirectory=mfa-server StateDirectoryMode=0700 \
  LogsDirectory=mfa-server NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
  PrivateTmp=yes PrivateDevices=yes CapabilityBoundingSet= \
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' SystemCallFilter=@system-service; do
  grep -qxF "$want" "$pushd_unit" || fail "$pushd_unit: no '$want'"
done
pass "unit: service user, state and logs directories, hardening"
if command -v systemd-analyze >/dev/null; then
  analyze=$(systemd-analyze verify "$pushd_unit" 2>&1) || fail "systemd-analyze verify: $analyze"
  [ -z "$analyze" ] || fail "systemd-analyze verify: $analyze"
  pass "systemd-analyze verify: clean"
  exposure=$(systemd-analyze security --offline=true "$pushd_unit" 2>/dev/null |
    sed -n 's/.*Overall exposure level for mfa-server.service: \([0-9.]*\).*/\1/p')
  [ -n "$exposure" ] || fail "systemd-analyze security: no exposure level"
  awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "systemd-analyze security: exposure $exposure > 2.0"
  pass "systemd-analyze security: exposure $exposure (at most 2.0)"
else
  echo "  (systemd-analyze not installed: unit not verified)"
fi
[ ! -e /etc/systemd/system/multi-user.target.wants/mfa-server.service ] || fail "the unit was enabled on install"
pass "installed disabled"
# The unit's own command, run as its User (and UMask); under systemd when this machine runs it.
exec_start=$(sed -n 's/^ExecStart=//p' "$pushd_unit")
[ -n "$exec_start" ] || fail "no ExecStart in $pushd_unit"
read -r -a exec_start <<<"$exec_start"
as_service() { setpriv --reuid=mfa-server --regid=mfa-server --init-groups -- "$@"; }
# start_unit: runs ExecStart for at most 5 s as the service user; prints its stderr, fails if it
# keeps running (it must not start before the configuration is complete).
start_unit() {
  local rc=0 err
  err=$( (umask 0077; timeout 5 setpriv --reuid=mfa-server --regid=mfa-server --init-groups -- \
    "${exec_start[@]}") 2>&1 >/dev/null) || rc=$?
  [ "$rc" != 0 ] || fail "ExecStart succeeded unconfigured"
  [ "$rc" != 124 ] || fail "ExecStart kept running unconfigured: $err"
  echo "$err"
}
err=$(start_unit)
grep -q 'public_url' <<<"$err" || fail "unconfigured start does not name public_url: $err"
pass "first start refused, saying: $err"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=https://127.0.0.1:$port
# What the administrator does (README.Debian): public_url and listen, then TLS.
sed -i -e "s|^#public_url = .*|public_url = \"$url\"|" -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" "$pushd_conf"
grep -qx "public_url = \"$url\"" "$pushd_conf" || fail "could not set public_url"
err=$(start_unit)
grep -q '/etc/mfa-server/tls/server.pem' <<<"$err" || fail "start without TLS files does not name them: $err"
grep -q 'mfa-server tls-init' <<<"$err" || fail "start without TLS files does not say how to make them: $err"
pass "start without TLS files refused, saying: $err"

echo "==> mfa-server: tls-init and host add as the service user"
runuser -u mfa-server -- mfa-server --config "$pushd_conf" tls-init --out-dir /etc/mfa-server/tls \
  --name localhost --ip 127.0.0.1
owned_is /etc/mfa-server/tls/server.key 600
[ ! -e /etc/mfa-server/tls/ca.key ] || fail "tls-init kept the CA key next to server.key"
owned_is /etc/mfa-server/tls/server.pem 644
cred=/var/lib/mfa-server/pkgtest.json
runuser -u mfa-server -- mfa-server --config "$pushd_conf" host add pkgtest --out "$cred"
owned_is "$cred" 600
owned_is /var/lib/mfa-server/service.key 600
runuser -u mfa-server -- mfa-server --config "$pushd_conf" host list | grep -q '^pkgtest ' ||
  fail "host list does not show pkgtest"
pass "host pkgtest added"

echo "==> mfa-server: the service, as the mfa-server user"
pushd_log=$(mktemp)
if [ -d /run/systemd/system ] && systemctl daemon-reload 2>/dev/null; then
  systemctl start mfa-server || fail "systemctl start mfa-server: $(journalctl -u mfa-server -n 20 --no-pager)"
  pushd_pid=$(systemctl show -p MainPID --value mfa-server)
  pushd_systemd=1
  echo "  started by systemd (pid $pushd_pid)"
else
  echo "  systemd is not running here (PID 1 is $(ps -p 1 -o comm=)): running the unit's ExecStart" \
    "as mfa-server through setpriv, with its UMask; the unit's sandbox is not applied"
  (umask 0077; exec setpriv --reuid=mfa-server --regid=mfa-server --init-groups -- "${exec_start[@]}") \
    2>"$pushd_log" &
  pushd_pid=$!
  pushd_systemd=
fi
health=
for _ in $(seq 50); do
  health=$(curl -sS --max-time 2 --cacert /etc/mfa-server/tls/ca.pem "$url/v2/health" 2>/dev/null) && break
  kill -0 "$pushd_pid" 2>/dev/null || fail "mfa-server exited: $(cat "$pushd_log")"
  sleep 0.2
done
[ "$health" = '{"status":"ok","protocol":2}' ] || fail "/v2/health: '$health'; log: $(cat "$pushd_log")"
pass "/v2/health over TLS, verified with the generated CA: $health"
[ "$(ps -o user= -p "$pushd_pid")" = mfa-server ] || fail "service runs as $(ps -o user= -p "$pushd_pid")"
pass "service process $pushd_pid runs as mfa-server"
! curl -sS --max-time 2 -o /dev/null "$url/v2/health" 2>/dev/null || fail "TLS accepted without the CA"
pass "untrusted without the generated CA"
# A device paired through the installed service with the installed mfa-push-device.
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$cred")
pairing=$(curl -sS --fail-with-body --max-time 5 --cacert /etc/mfa-server/tls/ca.pem \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"user":"pkgtest","ttl":60}' "$url/v2/pairings") || fail "POST /v2/pairings: $pairing"
# The host adds its own secret to the service's link before showing it (protocol 2, &k=).
uri=$(python3 -c 'import json,secrets,sys; print(json.loads(sys.argv[1])["uri"] + "&k=" + secrets.token_urlsafe(16))' "$pairing")
device_dir=$(mktemp -d)
mfa-push-device --key-file "$device_dir/key.json" pair "$uri" --name pkgtest-device \
  --ca-file /etc/mfa-server/tls/ca.pem || fail "mfa-push-device pair"
pending=$(mfa-push-device --key-file "$device_dir/key.json" pending --json) || fail "pending: $pending"
rm -rf "$device_dir"
devices=$(runuser -u mfa-server -- mfa-server --config "$pushd_conf" device list --user pkgtest --json)
grep -q '"name": "pkgtest-device"' <<<"$devices" || fail "device list: $devices"
pass "mfa-push-device paired (device list shows it), pending: $pending"
if [ -n "$pushd_systemd" ]; then
  systemctl stop mfa-server
else
  kill -TERM "$pushd_pid"
  wait "$pushd_pid" || fail "mfa-server did not stop cleanly on SIGTERM: $(cat "$pushd_log")"
fi
pushd_pid=
owned_is /var/log/mfa-server/audit.log 600
for event in service.started host.added pairing.used service.stopped; do
  grep -q "\"event\":\"$event\"" /var/log/mfa-server/audit.log || fail "audit log lacks $event"
done
pass "stopped on SIGTERM; audit log has service.started, host.added, pairing.used, service.stopped"
rm -f "$pushd_log"

echo "==> mfa-server: remove (dpkg -r)"
dpkg -r mfa-server
gone /usr/bin/mfa-server
gone /usr/bin/mfa-push-device
gone "$pushd_unit"
[ -f "$pushd_conf" ] || fail "remove deleted the conffile"
owned_is /var/lib/mfa-server/service.key 600
owned_is /var/lib/mfa-server/pushd.db 600
owned_is /etc/mfa-server/tls/server.key 600
pass "configuration, database, service key and TLS files kept"

echo "==> mfa-server: purge (dpkg -P)"
purge_log=$(dpkg -P mfa-server 2>&1)
echo "$purge_log"
grep -q 'mfa-server purge: DELETING' <<<"$purge_log" || fail "purge did not warn"
gone /var/lib/mfa-server
gone /var/log/mfa-server
gone /etc/mfa-server
getent passwd mfa-server >/dev/null || fail "purge removed the system user (it is kept by design)"
! dpkg-query -W -f='${Status}' mfa-server 2>/dev/null | grep -q 'config-files' ||
  fail "mfa-server still has config files"
pass "purge: data, TLS files, logs and configuration deleted, with a warning; user kept"
echo "  mfa-server checks took $((SECONDS - pushd_start)) s"

# The documented package path, as written (README "Packages", docs/push-service.md "Set it
# up"), on a throwaway copy of this machine: the .debs just built, the service configured and
# started as documented, a host joined, a phone paired, a sudo login approved by push.
echo "==> The documented setup from these packages (scripts/test-docs.sh --package)"
scripts/test-docs.sh --package

echo "package tests passed in $((SECONDS - start)) s"
