#!/usr/bin/env bash
# Installs everything the test suite needs on Debian 12 that is missing: the one list of the
# test dependencies. scripts/test.sh runs it first (and CI runs scripts/test.sh).
#
#   scripts/test-deps.sh           install what is missing: as root, or through sudo
#   scripts/test-deps.sh --check   change nothing; exit 1 and say what to run if anything is missing
#
# Idempotent, and quick when everything is there (one dpkg-query, two venv checks; no network).
# Without root and without sudo it installs nothing and prints the exact commands to run as root.
# Rust is not installed here (Debian 12's rustc is too old): https://rustup.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# Debian packages, with what needs them.
packages=(
  build-essential pkg-config libpam0g-dev libudev-dev # building pam_mfa (FIDO2 through libudev)
  libpam-modules libpam-runtime   # pam_unix and common-auth in the system stacks under test
  util-linux                      # unshare and setpriv: the sandboxes, unprivileged callers
  ca-certificates                 # pip for the two venvs below
  oathtool                        # an independent TOTP implementation
  binutils                        # nm (exported symbols)
  openssh-server openssh-client   # a real sshd and ssh
  openssl                         # passwords of sandbox users, test certificates
  libpam-google-authenticator     # its files for the import tests
  faketime                        # clocks before 1970 and in 2200
  valgrind                        # the memory checks
  python3-venv                    # the pinned venvs below
  postgresql                      # mfa-server on PostgreSQL: a throwaway cluster per test
  chromium chromium-driver        # the phone web app in real headless Chromium
  libnss-wrapper                  # invented test users resolve (tests/src/nss.rs): pam_mfa
                                  # refuses user names that are not accounts
  # Screen lockers and LightDM, tested for real and headless (tests/tests/lockers.rs,
  # tests/tests/greeters.rs, tests/src/desktop.rs): Xvfb and sway's headless backend, keys typed
  # with xdotool / wtype, screenshots with import / grim read back with tesseract, a private
  # D-Bus system bus for LightDM.
  xvfb xauth xdotool imagemagick tesseract-ocr tesseract-ocr-eng
  xscreensaver xsecurelock i3lock sway swaylock wtype grim
  lightdm lightdm-gtk-greeter dbus
)
# The pinned Python environments (privacyIDEA; the independent Web Push implementation).
venv_scripts=(scripts/privacyidea-setup.sh scripts/webpush-test-setup.sh)

check_only=
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac

start=$SECONDS
missing=()
while read -r pkg status; do
  [ "$status" = installed ] || missing+=("$pkg")
done < <(for p in "${packages[@]}"; do
  printf '%s %s\n' "$p" "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || echo missing)"
done)
venvs=()
for s in "${venv_scripts[@]}"; do
  "$s" --check || venvs+=("$s")
done

if [ ${#missing[@]} -eq 0 ] && [ ${#venvs[@]} -eq 0 ]; then
  echo "test-deps.sh: every test dependency is installed ($((SECONDS - start)) s)"
  exit 0
fi

# What to run as root, in order.
commands=()
if [ ${#missing[@]} -gt 0 ]; then
  commands+=("apt-get update" "apt-get install -y --no-install-recommends ${missing[*]}")
fi
for s in "${venvs[@]}"; do commands+=("$repo/$s"); done

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  as_root=(none)
fi
if [ -n "$check_only" ] || [ "${as_root[*]}" = none ]; then
  echo "test-deps.sh: missing:${missing[*]:+ Debian packages ${missing[*]};}${venvs[*]:+ the venvs of ${venvs[*]}}" >&2
  echo "test-deps.sh: to install them, run as root:" >&2
  printf '  %s\n' "${commands[@]}" >&2
  [ -n "$check_only" ] || echo "test-deps.sh: (not root, and sudo is not installed: nothing was changed)" >&2
  exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "==> test-deps.sh: Debian packages: ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install \
    -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for s in "${venvs[@]}"; do
  echo "==> test-deps.sh: $s"
  # The venvs' locations may be moved with MFA_PRIVACYIDEA_VENV / MFA_WEBPUSH_VENV.
  "${as_root[@]}" env ${MFA_PRIVACYIDEA_VENV:+MFA_PRIVACYIDEA_VENV="$MFA_PRIVACYIDEA_VENV"} \
    ${MFA_WEBPUSH_VENV:+MFA_WEBPUSH_VENV="$MFA_WEBPUSH_VENV"} "$repo/$s"
done
echo "test-deps.sh: test dependencies installed in $((SECONDS - start)) s"
