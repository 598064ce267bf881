# mfa-server %preun ($1: 0 erase, 1 upgrade): on erase, stop and disable the service (like
# %systemd_preun).
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --no-reload disable --now mfa-server.service >/dev/null 2>&1 || :
fi
