# pam_mfa %preun ($1: 0 erase, 1 upgrade): on erase, turn the authselect feature "with-mfa" off
# (docs/packaging.md) before the module's file goes, so no PAM stack is left naming a missing
# module (which would deny every login).
if [ "$1" -eq 0 ] && command -v authselect >/dev/null 2>&1; then
    if authselect current --raw 2>/dev/null | tr ' ' '\n' | grep -qx with-mfa; then
        authselect disable-feature with-mfa || :
    fi
fi
