# mfa-server %pre ($1: 1 install, 2 upgrade): the system user and group the service runs as.
getent group mfa-server >/dev/null || groupadd -r mfa-server
getent passwd mfa-server >/dev/null ||
    useradd -r -g mfa-server -d /var/lib/mfa-server -M -s /sbin/nologin -c "pam_mfa push service" mfa-server
