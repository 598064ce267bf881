#!/usr/bin/env bash
# Build the push service from source and install it on this Debian machine, laid out as the
# mfa-server package lays it out (docs/push-service.md, "Set it up"):
#
#   scripts/install-server.sh
#
# As root, or as a user with sudo (it continues through sudo; the build stays the user's).
# Installs mfa-server and mfa-push-device into /usr/local/bin, creates the system user mfa-server
# that runs the service and owns its files (/var/lib/mfa-server 0700, /var/log/mfa-server 0750,
# /etc/mfa-server/tls 0700), the configuration /etc/mfa-server/mfa-server.toml (an existing one is
# kept; config/mfa-server.toml) and the packaged systemd unit as
# /etc/systemd/system/mfa-server.service with the /usr/local/bin path, installed disabled. Safe
# to run again (an upgrade: the binaries are replaced, nothing else changes).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
. scripts/lib/install-common.sh
become_root "$here/scripts/install-server.sh" "$@"

install_build_deps build-essential pkg-config
build_release "$here" -p mfa-server --bins
target=${CARGO_TARGET_DIR:-$here/target}/release

for bin in mfa-server mfa-push-device; do
  echo "==> Installing /usr/local/bin/$bin"
  install -m 0755 "$target/$bin" "/usr/local/bin/$bin.new"
  mv -f "/usr/local/bin/$bin.new" "/usr/local/bin/$bin"
done

# The service user and its directories, as the package's postinst makes them.
user=mfa-server
if ! getent passwd "$user" >/dev/null; then
  echo "==> Creating the system user $user"
  useradd --system --user-group --home-dir /var/lib/mfa-server --no-create-home \
    --shell /usr/sbin/nologin --comment "pam_mfa push service" "$user"
fi
for d in /var/lib/mfa-server:0700 /var/log/mfa-server:0750 /etc/mfa-server/tls:0700; do
  [ -d "${d%:*}" ] || install -d -m "${d#*:}" -o "$user" -g "$user" "${d%:*}"
done
if [ -e /etc/mfa-server/mfa-server.toml ]; then
  echo "==> Keeping /etc/mfa-server/mfa-server.toml (new default: /etc/mfa-server/mfa-server.toml.dist)"
  install -m 0644 config/mfa-server.toml /etc/mfa-server/mfa-server.toml.dist
else
  echo "==> Installing /etc/mfa-server/mfa-server.toml"
  install -m 0644 config/mfa-server.toml /etc/mfa-server/mfa-server.toml
fi

# The packaged unit, pointing at this install.
unit=/etc/systemd/system/mfa-server.service
echo "==> Installing $unit (disabled)"
install -d -m 0755 /etc/systemd/system
sed 's|^ExecStart=/usr/bin/mfa-server |ExecStart=/usr/local/bin/mfa-server |' \
  packaging/systemd/mfa-server.service >"$unit.new"
grep -q '^ExecStart=/usr/local/bin/mfa-server ' "$unit.new" || {
  echo "install-server.sh: packaging/systemd/mfa-server.service has no ExecStart=/usr/bin/mfa-server" >&2
  rm -f "$unit.new"
  exit 1
}
chmod 0644 "$unit.new"
mv -f "$unit.new" "$unit"
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

cat <<EOM

mfa-server is installed but not started. It runs as the user $user, which owns its data; run
its commands as that user too (docs/push-service.md, "Set it up"):

  runuser -u $user -- mfa-server tls-init --out-dir /etc/mfa-server/tls --name HOST [--ip ADDR]
  set public_url (and listen) in /etc/mfa-server/mfa-server.toml, then
  systemctl enable --now mfa-server         (without systemd: see docs/push-service.md)
  runuser -u $user -- mfa-server host add web1 --out /var/lib/mfa-server/web1.json
EOM
