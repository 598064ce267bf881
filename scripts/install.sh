#!/usr/bin/env bash
# Build pam_mfa from source and install it on this Debian machine.
#
#   scripts/install.sh
#
# As root, or as a user with sudo (it continues through sudo; the build stays the user's).
# Installs pam_mfa.so into the multiarch PAM module directory, mfa-enroll into /usr/local/bin,
# the default configuration into /etc/pam_mfa/ (an existing one is kept), and creates the master
# key and /var/lib/pam_mfa. It does NOT enable the module in any PAM stack: that is a separate,
# deliberate step (see the README), so nobody is locked out by installing.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

. scripts/lib/install-common.sh
become_root "$here/scripts/install.sh" "$@"

# 1. Build dependencies from Debian.
install_build_deps build-essential pkg-config libpam0g-dev libudev-dev

# 2. Build, as the user who called sudo or owns the checkout (no root-owned files in it).
build_release "$here" -p pam_mfa -p mfa-enroll -p mfa-helper
target=${CARGO_TARGET_DIR:-$here/target}/release

# 3. Install files.
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
secdir=/usr/lib/$multiarch/security
[ -n "$multiarch" ] && [ -d "$secdir" ] || secdir=/usr/lib/security
echo "==> Installing $secdir/pam_mfa.so"
install -d -m 0755 "$secdir"
install -m 0644 "$target/libpam_mfa.so" "$secdir/pam_mfa.so.new"
mv -f "$secdir/pam_mfa.so.new" "$secdir/pam_mfa.so"   # atomic: running sshd/sudo never see half a file
echo "==> Installing /usr/local/bin/mfa-enroll"
install -m 0755 "$target/mfa-enroll" /usr/local/bin/mfa-enroll

echo "==> Installing /usr/lib/pam_mfa/mfa-helper (setuid root: screen lockers, mfa-enroll without sudo)"
install -d -m 0755 /usr/lib/pam_mfa
install -o root -g root -m 4755 "$target/mfa-helper" /usr/lib/pam_mfa/mfa-helper.new
mv -f /usr/lib/pam_mfa/mfa-helper.new /usr/lib/pam_mfa/mfa-helper

install -d -m 0755 /etc/pam_mfa
if [ -e /etc/pam_mfa/pam_mfa.toml ]; then
  echo "==> Keeping existing /etc/pam_mfa/pam_mfa.toml (new default: /etc/pam_mfa/pam_mfa.toml.dist)"
  install -m 0644 config/pam_mfa.toml /etc/pam_mfa/pam_mfa.toml.dist
else
  echo "==> Installing /etc/pam_mfa/pam_mfa.toml"
  install -m 0644 config/pam_mfa.toml /etc/pam_mfa/pam_mfa.toml
fi

# 4. Master key and state directory (kept if they exist).
/usr/local/bin/mfa-enroll init

cat <<EOM

pam_mfa is installed but not enabled anywhere yet. Next steps:

  1. Enroll yourself (shows a QR code for your authenticator app, then recovery codes):
       mfa-enroll totp

  2. Keep a root shell open, then enable the module, e.g. for sudo: add this line to
     /etc/pam.d/sudo right after '@include common-auth':
       auth required pam_mfa.so
     For SSH, see "Enabling for SSH" in README.md (pam.d and sshd_config lines).

  3. Test in a NEW terminal (sudo -k; sudo true) before closing the root shell.

Back up /etc/pam_mfa/master.key together with /var/lib/pam_mfa: one is useless without the other.
EOM
