#!/usr/bin/env bash
# Fuzz mfa-login's parsers, store decoders, login state machine and the setuid helper's line protocol
# (fuzz/, cargo-fuzz + libFuzzer).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   scripts/fuzz.sh              # every target for 60 s
#   scripts/fuzz.sh 3600         # a long run: one hour per target
#   scripts/fuzz.sh 600 otpauth  # one target
#
# Works on stable Rust: targets are built without a sanitizer (`--sanitizer none`: sanitizers
# need nightly; mfa-login forbids unsafe code), with optimizations, debug assertions and overflow
# checks, so a bug shows as a panic. Installs cargo-fuzz if it is missing. Each target starts
# from its committed seeds (fuzz/corpus/<target>/, only read) plus fuzz/work/corpus/<target>/
# (what earlier runs found, not committed). Prints each target's number of executions; fails if
# a target crashes (or does not build). A crash input is kept in fuzz/artifacts/<target>/;
# replay it with
#   cd fuzz && cargo fuzz run --sanitizer none <target> artifacts/<target>/crash-<hash>
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

secs=${1:-60}
shift || true
case "$secs" in '' | *[!0-9]*) echo "fuzz.sh: SECONDS_PER_TARGET must be a number" >&2; exit 2 ;; esac

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd fuzz
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi

start=$(date +%s)
cargo fuzz build --sanitizer none
echo "fuzz.sh: built in $(( $(date +%s) - start )) s; ${#targets[@]} targets, ${secs} s each"

work=$root/fuzz/work
mkdir -p "$work/logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$root/fuzz/artifacts/$t"
  # The login target makes its temporary store under TMPDIR; libFuzzer exits without running
  # destructors, so give it a directory this script removes.
  tmp=$(mktemp -d "$work/tmp.XXXXXX")
  args=(-max_total_time="$secs" -print_final_stats=1 -timeout=60 -rss_limit_mb=4096)
  [ -f "$root/fuzz/dict/$t.dict" ] && args+=(-dict="$root/fuzz/dict/$t.dict")
  log=$work/logs/$t.log
  rc=0
  TMPDIR=$tmp cargo fuzz run --sanitizer none "$t" "$work/corpus/$t" "$root/fuzz/corpus/$t" \
    -- "${args[@]}" >"$log" 2>&1 || rc=$?
  rm -rf "$tmp"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    summary+=("$(printf '%-26s FAILED (exit %s) after %s executions' "$t" "$rc" "${execs:-?}")")
    echo "fuzz.sh: $t FAILED; end of its log ($log):" >&2
    tail -n 40 "$log" >&2
  else
    summary+=("$(printf '%-26s ok, %s executions in %s s' "$t" "${execs:-?}" "$secs")")
  fi
  echo "${summary[-1]}"
done

echo "fuzz.sh: summary ($(( $(date +%s) - start )) s in all)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]} (crash inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
