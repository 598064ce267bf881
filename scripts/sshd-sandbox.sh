#!/usr/bin/env bash
# Start a throwaway OpenSSH server on 127.0.0.1 with pam_mfa, leaving the host untouched.
#
#   scripts/sshd-sandbox.sh DIR PORT MODULE MFA_ENROLL USER [CONFIG_EXTRA]
#
# DIR         a fresh, root-only directory for everything (keys, overlays, the pam_mfa store)
# PORT        TCP port on 127.0.0.1
# MODULE      the pam_mfa.so to test
# MFA_ENROLL  the mfa-enroll binary (creates the store)
# USER        a throwaway account that exists only inside the sandbox (uid 4242)
# CONFIG_EXTRA  TOML prepended to the sandbox's /etc/pam_mfa/pam_mfa.toml, e.g.
#             'enrollment = "on-login"'
#
# sshd uses the repository's config/pam.d/sshd and config/sshd_config.d/pam_mfa.conf as they
# are, at their real paths inside the sandbox (see scripts/sandbox.sh). The private key that
# USER logs in with is DIR/client_key. sshd runs in the foreground until it is killed.
set -euo pipefail
[ $# -ge 5 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
dir=$1 port=$2 module=$3 enroll=$4 user=$5 extra=${6:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
up=$dir/etc.upper

# sshd reads authorized_keys as the user: the directory must be traversable (not listable).
chmod 0711 "$dir"
"$repo/scripts/sandbox.sh" add-user "$dir" "$user" 4242
mkdir -p "$up/pam.d" "$up/ssh/sshd_config.d" "$up/pam_mfa" "$dir/authorized_keys"
install -m 0644 "$repo/config/pam.d/sshd" "$up/pam.d/sshd"
install -m 0644 "$repo/config/sshd_config.d/pam_mfa.conf" "$up/ssh/sshd_config.d/pam_mfa.conf"

ssh-keygen -q -t ed25519 -N '' -C "sandbox host" -f "$dir/host_key"
ssh-keygen -q -t ed25519 -N '' -C "$user@sandbox" -f "$dir/client_key"
install -m 0644 "$dir/client_key.pub" "$dir/authorized_keys/$user"
cat > "$dir/sshd_config" <<CFG
Include /etc/ssh/sshd_config.d/pam_mfa.conf
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys/%u
StrictModes no
PermitRootLogin no
LogLevel VERBOSE
CFG

printf '%s\n\n[store]\nstate_dir = "%s"\nmaster_key = "%s"\n' \
  "$extra" "$dir/state" "$dir/master.key" > "$up/pam_mfa/pam_mfa.toml"
chmod 0644 "$up/pam_mfa/pam_mfa.toml"
"$enroll" --config "$up/pam_mfa/pam_mfa.toml" init >/dev/null

mkdir -p /run/sshd   # privilege separation directory, normally made by the ssh service
exec "$repo/scripts/sandbox.sh" run "$dir" "$module" /usr/sbin/sshd -D -e -f "$dir/sshd_config"
