# mfa-pushd %pre ($1: 1 install, 2 upgrade): the system user and group the service runs as.
getent group mfa-pushd >/dev/null || groupadd -r mfa-pushd
getent passwd mfa-pushd >/dev/null ||
    useradd -r -g mfa-pushd -d /var/lib/mfa-pushd -M -s /sbin/nologin -c "pam_mfa push service" mfa-pushd
