# mfa-server %postun ($1: 0 erase, 1 upgrade): restart a running service into the new version
# (like %systemd_postun_with_restart). RPM has no "purge": on erase, say what was kept.
if [ "$1" -ge 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl try-restart mfa-server.service >/dev/null 2>&1 || :
fi
if [ "$1" -eq 0 ] && { [ -d /var/lib/mfa-server ] || [ -d /etc/mfa-server/tls ]; }; then
    echo "mfa-server: kept /var/lib/mfa-server (hosts, devices, service key), /etc/mfa-server/tls and /var/log/mfa-server." >&2
    echo "mfa-server: to delete them: rm -rf /var/lib/mfa-server /etc/mfa-server /var/log/mfa-server" >&2
fi
