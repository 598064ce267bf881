# pam_mfa %postun ($1: 0 erase, 1 upgrade): RPM has no "purge", so the master key and the
# enrollments stay after an erase (reinstalling brings them back). Say how to delete them.
if [ "$1" -eq 0 ] && { [ -e /etc/pam_mfa/master.key ] || [ -d /var/lib/pam_mfa ]; }; then
    echo "pam_mfa: kept /etc/pam_mfa/master.key and /var/lib/pam_mfa (enrollments)." >&2
    echo "pam_mfa: to delete every enrollment: rm -rf /etc/pam_mfa /var/lib/pam_mfa" >&2
fi
