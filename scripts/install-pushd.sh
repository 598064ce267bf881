#!/usr/bin/env bash
# Build the push service from source and install it on this Debian machine, laid out as the
# mfa-pushd package lays it out (docs/push-service.md, "Set it up"):
#
#   scripts/install-pushd.sh
#
# As root, or as a user with sudo (it continues through sudo; the build stays the user's).
# Installs mfa-pushd and mfa-push-device into /usr/local/bin, creates the system user mfa-pushd
# that runs the service and owns its files (/var/lib/mfa-pushd 0700, /var/log/mfa-pushd 0750,
# /etc/mfa-pushd/tls 0700), the configuration /etc/mfa-pushd/mfa-pushd.toml (an existing one is
# kept; config/mfa-pushd.toml) and the packaged systemd unit as
# /etc/systemd/system/mfa-pushd.service with the /usr/local/bin path, installed disabled. Safe
# to run again (an upgrade: the binaries are replaced, nothing else changes).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. scripts/lib/install-common.sh
become_root "$here/scripts/install-pushd.sh" "$@"

install_build_deps build-essential pkg-config
build_release "$here" -p push-server --bins
target=${CARGO_TARGET_DIR:-$here/target}/release

for bin in mfa-pushd mfa-push-device; do
  echo "==> Installing /usr/local/bin/$bin"
  install -m 0755 "$target/$bin" "/usr/local/bin/$bin.new"
  mv -f "/usr/local/bin/$bin.new" "/usr/local/bin/$bin"
done

# The service user and its directories, as the package's postinst makes them.
user=mfa-pushd
if ! getent passwd "$user" >/dev/null; then
  echo "==> Creating the system user $user"
  useradd --system --user-group --home-dir /var/lib/mfa-pushd --no-create-home \
    --shell /usr/sbin/nologin --comment "pam_mfa push service" "$user"
fi
for d in /var/lib/mfa-pushd:0700 /var/log/mfa-pushd:0750 /etc/mfa-pushd/tls:0700; do
  [ -d "${d%:*}" ] || install -d -m "${d#*:}" -o "$user" -g "$user" "${d%:*}"
done
if [ -e /etc/mfa-pushd/mfa-pushd.toml ]; then
  echo "==> Keeping /etc/mfa-pushd/mfa-pushd.toml (new default: /etc/mfa-pushd/mfa-pushd.toml.dist)"
  install -m 0644 config/mfa-pushd.toml /etc/mfa-pushd/mfa-pushd.toml.dist
else
  echo "==> Installing /etc/mfa-pushd/mfa-pushd.toml"
  install -m 0644 config/mfa-pushd.toml /etc/mfa-pushd/mfa-pushd.toml
fi

# The packaged unit, pointing at this install.
unit=/etc/systemd/system/mfa-pushd.service
echo "==> Installing $unit (disabled)"
install -d -m 0755 /etc/systemd/system
sed 's|^ExecStart=/usr/bin/mfa-pushd |ExecStart=/usr/local/bin/mfa-pushd |' \
  packaging/systemd/mfa-pushd.service >"$unit.new"
grep -q '^ExecStart=/usr/local/bin/mfa-pushd ' "$unit.new" || {
  echo "install-pushd.sh: packaging/systemd/mfa-pushd.service has no ExecStart=/usr/bin/mfa-pushd" >&2
  rm -f "$unit.new"
  exit 1
}
chmod 0644 "$unit.new"
mv -f "$unit.new" "$unit"
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

cat <<EOM

mfa-pushd is installed but not started. It runs as the user $user, which owns its data; run
its commands as that user too (docs/push-service.md, "Set it up"):

  runuser -u $user -- mfa-pushd tls-init --out-dir /etc/mfa-pushd/tls --name HOST [--ip ADDR]
  set public_url (and listen) in /etc/mfa-pushd/mfa-pushd.toml, then
  systemctl enable --now mfa-pushd         (without systemd: see docs/push-service.md)
  runuser -u $user -- mfa-pushd host add web1 --out /var/lib/mfa-pushd/web1.json
EOM
