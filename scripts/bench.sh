#!/usr/bin/env bash
# Benchmark pam_mfa side by side with pam_google_authenticator and pam_oath, through the real
# libpam, on this machine in one run, and write the report.
#
#   scripts/bench.sh                     full run: docs/benchmarks.md and docs/benchmarks.svg
#   scripts/bench.sh --quick             a few iterations each (CI: keeps the benchmark working)
#   scripts/bench.sh [--quick] --out FILE.md [--svg FILE.svg]    write elsewhere
#
# Needs Debian's libpam-google-authenticator and libpam-oath, and root (PAM modules run as root;
# the benchmark unshares a mount namespace for its syslog sink). Builds in release mode as the
# calling user; when not root, only the benchmark itself runs through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
out=docs/benchmarks.md
svg=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --out) out=${2:?--out needs a file}; shift ;;
    --svg) svg=${2:?--svg needs a file}; shift ;;
    *) echo "usage: scripts/bench.sh [--quick] [--out FILE.md] [--svg FILE.svg]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$svg" ] || svg="${out%.md}.svg"

for so in pam_google_authenticator.so pam_oath.so; do
  if ! compgen -G "/usr/lib/*/security/$so" >/dev/null && ! compgen -G "/lib/*/security/$so" >/dev/null; then
    echo "bench.sh: $so not found (Debian: apt-get install libpam-google-authenticator libpam-oath)" >&2
    exit 1
  fi
done
command -v cargo >/dev/null || { echo "bench.sh: cargo not found (Rust: rustup)" >&2; exit 1; }

cargo build --release --locked -p pam_mfa -p mfa-bench
target=${CARGO_TARGET_DIR:-target}/release
export MFA_BENCH_RUSTC="$(rustc --version)"
cmd="scripts/bench.sh${quick:+ ${quick[*]}}"

if [ "$(id -u)" -eq 0 ]; then
  "$target/mfa-bench" run "${quick[@]}" --module "$target/libpam_mfa.so" \
    --out "$out" --svg "$svg" --command "$cmd"
else
  # Run as root into a scratch directory, then copy: the report stays owned by the caller.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "bench.sh: running the benchmark with sudo (the build stays yours)"
  sudo --preserve-env=MFA_BENCH_RUSTC,MFA_BENCH_DIR "$target/mfa-bench" run "${quick[@]}" \
    --module "$target/libpam_mfa.so" --out "$tmp/report.md" --svg "$tmp/report.svg" --command "$cmd"
  sed "s|(report.svg)|($(basename "$svg"))|" "$tmp/report.md" > "$out"
  cp "$tmp/report.svg" "$svg"
fi
