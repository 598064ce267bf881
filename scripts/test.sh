#!/usr/bin/env bash
# Run every test of pam_mfa: unit tests, and integration tests that drive the built pam_mfa.so
# through the real libpam (and oathtool as an independent TOTP implementation).
#
#   scripts/test.sh [extra cargo test arguments]
#
# The integration tests need root: they chown files, mount a tiny tmpfs, capture syslog and run
# sshd and the system's PAM stacks in private mount namespaces with overlays over /etc (see
# scripts/sandbox.sh; nothing on the host changes). When run as a normal user, everything is
# built as that user and only the test binaries run through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cargo oathtool nm ssh ssh-keygen /usr/sbin/sshd openssl unshare google-authenticator faketime valgrind; do
  command -v "$tool" >/dev/null || {
    echo "test.sh: '$tool' not found. Debian: apt-get install oathtool binutils openssh-server" \
      "openssh-client openssl util-linux libpam-google-authenticator faketime valgrind; Rust: rustup" >&2
    exit 1
  }
done

# Invented test users resolve through Debian's libnss-wrapper (tests/src/nss.rs): pam_mfa
# refuses user names that are not accounts. strace stalls a setuid helper inside a lock
# (tests/tests/hostile_caller.rs).
if ! ls /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so >/dev/null 2>&1; then
  echo "test.sh: libnss_wrapper.so not found. Debian: apt-get install libnss-wrapper" >&2
  exit 1
fi
command -v strace >/dev/null || { echo "test.sh: strace not found. Debian: apt-get install strace" >&2; exit 1; }

# The privacyIDEA backend's tests need a real privacyIDEA (tests/tests/privacyidea.rs).
if [ ! -x "${MFA_PRIVACYIDEA_VENV:-/opt/pam_mfa-test/privacyidea-venv}/bin/pi-manage" ]; then
  echo "test.sh: privacyIDEA not installed: run scripts/privacyidea-setup.sh" >&2
  exit 1
fi

# The Web Push tests check mfa-pushd's messages with Python http_ece + py_vapid
# (push-server/tests/webpush.rs).
if [ ! -x "${MFA_WEBPUSH_VENV:-/opt/pam_mfa-test/webpush-venv}/bin/python" ]; then
  echo "test.sh: the Web Push verifier is not installed: run scripts/webpush-test-setup.sh" >&2
  exit 1
fi

# The web approver tests drive real headless Chromium (tests/tests/web_approver.rs).
for tool in /usr/bin/chromedriver /usr/lib/chromium/chromium; do
  [ -x "$tool" ] || {
    echo "test.sh: '$tool' not found. Debian: apt-get install chromium chromium-driver" >&2
    exit 1
  }
done

# The push suites also run on PostgreSQL, each test on a throwaway cluster (tests/src/pg.rs).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test.sh: the PostgreSQL server is not installed: apt-get install postgresql" >&2
  exit 1
fi

# Build everything first: the PAM tests load target/debug/libpam_mfa.so and run the
# pam-test-client and mfa-enroll binaries.
cargo build --workspace --all-targets

if [ "$(id -u)" -ne 0 ]; then
  host=$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${host}_RUNNER=sudo --preserve-env=MFA_REPLAY_TRIALS,MFA_CRASH_ROUNDS,MFA_PRIVACYIDEA_VENV,MFA_WEBPUSH_VENV,RUST_BACKTRACE"
  echo "test.sh: running the test binaries with sudo (builds stay yours)"
fi
cargo test --workspace "$@"
