#!/usr/bin/env bash
# Run every test of pam_mfa: unit tests, and integration tests that drive the built pam_mfa.so
# through the real libpam, sshd, mfa-server over TLS, PostgreSQL, headless Chromium and
# privacyIDEA.
#
#   scripts/test.sh [cargo test arguments]   e.g. --test stacks, or -p mfa-login login::
#
# First installs what the tests need and is missing (scripts/test-deps.sh: Debian packages, the
# pinned Python venvs, Chromium and its driver, PostgreSQL), as root or through sudo. The
# integration tests need root: they chown files, mount a tiny tmpfs, capture syslog and run
# sshd and the system's PAM stacks in private mount namespaces with overlays over /etc (see
# scripts/sandbox.sh; nothing on the host changes). Run as a normal user, everything is built as
# that user and only the test binaries run through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
command -v cargo >/dev/null || {
  echo "test.sh: cargo not found. Install Rust first (as the user who builds):" >&2
  echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y && . \"\$HOME/.cargo/env\"" >&2
  exit 1
}
# Said before anything takes time: without root, the test binaries need sudo.
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "test.sh: the integration tests need root, and sudo is not installed. Run as root:" >&2
  echo "  su -c 'cd $PWD && scripts/test.sh'" >&2
  exit 1
fi

scripts/test-deps.sh

# Build everything first: the PAM tests load target/debug/libpam_mfa.so and run the
# pam-test-client and mfa-enroll binaries.
cargo build --workspace --all-targets

if [ "$(id -u)" -ne 0 ]; then
  host=$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${host}_RUNNER=sudo --preserve-env=MFA_REPLAY_TRIALS,MFA_CRASH_ROUNDS,MFA_PRIVACYIDEA_VENV,MFA_WEBPUSH_VENV,RUST_BACKTRACE"
  echo "test.sh: running the test binaries with sudo (builds stay yours)"
fi
start=$SECONDS
status=0
scope=(--workspace)   # unless a package is named (-p mfa-login)
for a in "$@"; do case $a in -p | -p* | --package | --package=*) scope=() ;; esac; done
cargo test "${scope[@]}" "$@" || status=$?
echo "test.sh: cargo test took $((SECONDS - start)) s (exit status $status)"
exit "$status"
