# mfa-pushd %postun ($1: 0 erase, 1 upgrade): restart a running service into the new version
# (like %systemd_postun_with_restart). RPM has no "purge": on erase, say what was kept.
if [ "$1" -ge 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl try-restart mfa-pushd.service >/dev/null 2>&1 || :
fi
if [ "$1" -eq 0 ] && { [ -d /var/lib/mfa-pushd ] || [ -d /etc/mfa-pushd/tls ]; }; then
    echo "mfa-pushd: kept /var/lib/mfa-pushd (hosts, devices, service key), /etc/mfa-pushd/tls and /var/log/mfa-pushd." >&2
    echo "mfa-pushd: to delete them: rm -rf /var/lib/mfa-pushd /etc/mfa-pushd /var/log/mfa-pushd" >&2
fi
