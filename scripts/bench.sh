#!/usr/bin/env bash
# Benchmark pam_mfa side by side with pam_google_authenticator and pam_oath, through the real
# libpam, then the push service under load (push-load: mfa-server on SQLite, on PostgreSQL with
# one and two instances, and privacyIDEA), then fleet mode's code verification (fleet-load: the
# same services, privacyIDEA with TOTP tokens; 100,000 enrolled users), on this machine in one
# run, and write the report.
#
#   scripts/bench.sh                     full run: docs/benchmarks.md and docs/benchmarks.svg
#   scripts/bench.sh --quick             a few iterations each (CI: keeps the benchmark working)
#   scripts/bench.sh [--quick] --out FILE.md [--svg FILE.svg]    write elsewhere
#   scripts/bench.sh --no-push ...       the PAM part only (no PostgreSQL or privacyIDEA needed)
#
# Needs Debian's libpam-google-authenticator, libpam-oath and libnss-wrapper, and root (PAM modules run as root;
# the benchmark unshares a mount namespace for its syslog sink). The push part also needs the
# PostgreSQL server (Debian: postgresql) and the privacyIDEA venv of scripts/privacyidea-setup.sh
# (MFA_PRIVACYIDEA_VENV, default /opt/pam_mfa-test/privacyidea-venv). Builds in release mode as
# the calling user; when not root, only the PAM benchmark runs through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
out=docs/benchmarks.md
svg=
push=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --out) out=${2:?--out needs a file}; shift ;;
    --svg) svg=${2:?--svg needs a file}; shift ;;
    --no-push) push= ;;
    *) echo "usage: scripts/bench.sh [--quick] [--no-push] [--out FILE.md] [--svg FILE.svg]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$svg" ] || svg="${out%.md}.svg"

# The benchmark's users exist only in its own passwd file, read through libnss-wrapper.
if ! compgen -G "/usr/lib/*/libnss_wrapper.so" >/dev/null; then
  echo "bench.sh: libnss_wrapper.so not found (Debian: apt-get install libnss-wrapper)" >&2
  exit 1
fi
for so in pam_google_authenticator.so pam_oath.so; do
  if ! compgen -G "/usr/lib/*/security/$so" >/dev/null && ! compgen -G "/lib/*/security/$so" >/dev/null; then
    echo "bench.sh: $so not found (Debian: apt-get install libpam-google-authenticator libpam-oath)" >&2
    exit 1
  fi
done
if [ -n "$push" ]; then
  if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "bench.sh: the PostgreSQL server is not installed (Debian: apt-get install postgresql);" \
      "the push part runs mfa-server on a throwaway cluster (--no-push skips the push part)" >&2
    exit 1
  fi
  venv=${MFA_PRIVACYIDEA_VENV:-/opt/pam_mfa-test/privacyidea-venv}
  if [ ! -x "$venv/bin/gunicorn" ] || [ ! -x "$venv/bin/pi-manage" ]; then
    echo "bench.sh: privacyIDEA is not installed in $venv: run scripts/privacyidea-setup.sh" \
      "(or set MFA_PRIVACYIDEA_VENV; --no-push skips the push part)" >&2
    exit 1
  fi
fi
command -v cargo >/dev/null || { echo "bench.sh: cargo not found (Rust: rustup)" >&2; exit 1; }

cargo build --release --locked -p pam_mfa -p mfa-bench ${push:+-p mfa-server}
target=${CARGO_TARGET_DIR:-target}/release
export MFA_BENCH_RUSTC="$(rustc --version)"
args=("${quick[@]}")
[ -n "$push" ] || args+=(--no-push)
cmd="scripts/bench.sh${args:+ ${args[*]}}"
push_flag=()
[ -z "$push" ] || push_flag=(--push-follows)

# Each part writes into a scratch directory; the report is put together at the end, so a failed
# run leaves the previous one in place.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$(id -u)" -eq 0 ]; then
  "$target/mfa-bench" run "${quick[@]}" "${push_flag[@]}" --module "$target/libpam_mfa.so" \
    --out "$tmp/pam.md" --svg "$tmp/report.svg" --command "$cmd"
else
  # Root writes into the scratch directory; the copies below stay owned by the caller.
  chmod 755 "$tmp"
  echo "bench.sh: running the PAM benchmark with sudo (the build stays yours)"
  sudo --preserve-env=MFA_BENCH_RUSTC,MFA_BENCH_DIR "$target/mfa-bench" run "${quick[@]}" \
    "${push_flag[@]}" --module "$target/libpam_mfa.so" --out "$tmp/pam.md" \
    --svg "$tmp/report.svg" --command "$cmd"
fi

if [ -n "$push" ]; then
  # After the PAM part, so that its load does not weigh on the PAM figures. Needs no root:
  # as root, the harness runs PostgreSQL as the postgres user.
  echo "bench.sh: push-load --backend all ${quick[*]}"
  "$target/push-load" --backend all "${quick[@]}" --pushd "$target/mfa-server" --out "$tmp/push.md"
  # Fleet mode (issue 20): the same services verifying TOTP codes (full: about 9 minutes, most
  # of it enrolling 100,000 users three times and privacyIDEA's tokens; --quick: about 1).
  echo "bench.sh: fleet-load --backend all ${quick[*]}"
  "$target/fleet-load" --backend all "${quick[@]}" --pushd "$target/mfa-server" --out "$tmp/fleet.md"
  # Fleet mode offline (issue 21): window build time and size per user and hour, bundle fetch,
  # and the host's offline check next to an online verification (about 1 minute; --quick: 25 s).
  echo "bench.sh: offline-bundle ${quick[*]}"
  "$target/offline-bundle" "${quick[@]}" --pushd "$target/mfa-server" --out "$tmp/offline.md"
fi

{
  sed "s|(report.svg)|($(basename "$svg"))|" "$tmp/pam.md"
  if [ -n "$push" ]; then
    echo
    sed '1s/^## .*/## Push approval: mfa-server (SQLite, PostgreSQL ×1, ×2) and privacyIDEA/' "$tmp/push.md"
    echo
    sed '1s/^## .*/## Fleet verification: mfa-server (SQLite, PostgreSQL ×1, ×2) and privacyIDEA/' "$tmp/fleet.md"
    echo
    cat "$tmp/offline.md"
  fi
  # The hand-kept last sections (what the fleet figures mean, issue 20; the module's size and
  # instructions per login, from scripts/login-instructions.sh, issue 19) are carried over from
  # the file being replaced: rewrite them by hand when the figures change.
  hand_kept='^## \(Reading the fleet figures\|Module size and instructions per login\)'
  if [ -f "$out" ] && grep -q "$hand_kept" "$out"; then
    echo
    sed -n "/$hand_kept/,\$p" "$out"
  fi
} > "$tmp/report.md"
cp "$tmp/report.md" "$out"
[ ! -f "$tmp/report.svg" ] || cp "$tmp/report.svg" "$svg"
echo "bench.sh: wrote $out and $svg"
