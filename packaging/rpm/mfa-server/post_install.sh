# mfa-server %post ($1: 1 install, 2 upgrade): the directories the service user owns (data_dir,
# the audit log's directory, and /etc/mfa-server/tls for `mfa-server tls-init`); existing ones
# are left as they are. The unit is not enabled unless a systemd preset says so (like
# %systemd_post): it needs a public_url and TLS files first (mfa-server(8)).
for d in /var/lib/mfa-server:0700 /var/log/mfa-server:0750 /etc/mfa-server/tls:0700; do
    [ -d "${d%:*}" ] || install -d -m "${d#*:}" -o mfa-server -g mfa-server "${d%:*}"
done
if [ "$1" -eq 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --no-reload preset mfa-server.service >/dev/null 2>&1 || :
fi
