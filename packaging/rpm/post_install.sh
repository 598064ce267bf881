# pam_mfa %post ($1: 1 install, 2 upgrade): create the master key (/etc/pam_mfa/master.key, root
# 0600) and the state directory (/var/lib/pam_mfa, root 0700) named in the configuration.
# Idempotent: what exists is checked, never changed, so upgrades keep every enrollment.
/usr/bin/mfa-enroll init
