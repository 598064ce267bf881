#!/usr/bin/env bash
# Instructions of one TOTP login through pamtester, counted by valgrind's callgrind: the release
# pam_mfa.so alone in an `auth` stack with the shipped, commented configuration
# (config/pam_mfa.toml, store paths moved into a temporary directory, fail_delay_ms = 0), minus
# the same pamtester run with `pam_permit.so` as the only module. Instruction counts do not
# depend on the machine's load, unlike the CPU times of scripts/bench.sh.
#
#   scripts/login-instructions.sh [MODULE.so] [--keep DIR]
#
# MODULE.so defaults to target/release/libpam_mfa.so (build it first: cargo build --release
# -p pam_mfa -p mfa-enroll). Prints the totals, where pam_mfa's share goes (dynamic loader,
# configuration parsing, hashing, AEAD, allocation, the rest) and the module's file size and
# relocation counts. Needs root (it bind-mounts a temporary pam.d over /etc/pam.d in a private
# mount namespace; nothing on the host changes), valgrind, pamtester and oathtool. With
# pam_google_authenticator installed, its login is counted too, for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."

module=target/release/libpam_mfa.so
keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) module=$1 ;;
  esac
  shift
done
module=$(realpath "$module")
enroll=$(dirname "$module")/mfa-enroll
for tool in valgrind callgrind_annotate pamtester oathtool unshare; do
  command -v "$tool" >/dev/null || { echo "login-instructions.sh: $tool not found" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "login-instructions.sh: run as root" >&2; exit 1; }
[ -x "$enroll" ] || { echo "login-instructions.sh: $enroll not found" >&2; exit 1; }

tmp=$(mktemp -d)
[ -n "$keep" ] || trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"
sed -e "s|^state_dir = .*|state_dir = \"$tmp/state\"|" \
  -e "s|^master_key = .*|master_key = \"$tmp/master.key\"|" \
  -e "s|^fail_delay_ms = .*|fail_delay_ms = 0|" config/pam_mfa.toml >"$tmp/pam_mfa.toml"
chmod 644 "$tmp/pam_mfa.toml"
"$enroll" --config "$tmp/pam_mfa.toml" init >/dev/null
secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
printf '%s\n" TOTP_AUTH\n' "$secret" >"$tmp/ga"
chmod 600 "$tmp/ga"
mkdir "$tmp/pam.d"
echo "auth required $module config=$tmp/pam_mfa.toml" >"$tmp/pam.d/lean-mfa"
echo "auth required pam_permit.so" >"$tmp/pam.d/lean-permit"
# The peer, for comparison: pam_google_authenticator with the same secret, as scripts/bench.sh
# sets it up (its own file; it rewrites the file after a login).
ga_so=$(compgen -G "/usr/lib/*/security/pam_google_authenticator.so" | head -1 || true)
echo "auth required pam_google_authenticator.so secret=$tmp/ga-peer user=root" \
  >"$tmp/pam.d/lean-ga"

# One login under callgrind: SERVICE OUT [ANSWER]. A fresh import before each pam_mfa login
# resets the user's used time steps, so the same code is accepted again.
run() {
  local service=$1 out=$2 answer=${3:-}
  if [ "$service" = lean-ga ]; then
    printf '%s\n" RATE_LIMIT 3 30\n" WINDOW_SIZE 3\n" DISALLOW_REUSE\n" TOTP_AUTH\n12345678\n' \
      "$secret" >"$tmp/ga-peer"
    chmod 600 "$tmp/ga-peer"
    answer=$(oathtool --totp -b "$secret")
  fi
  if [ "$service" = lean-mfa ]; then
    "$enroll" --config "$tmp/pam_mfa.toml" --user root import --force google-authenticator \
      "$tmp/ga" >/dev/null
    answer=$(oathtool --totp -b "$secret")
  fi
  echo "$answer" | unshare -m sh -c "mount --bind '$tmp/pam.d' /etc/pam.d &&
    exec valgrind --tool=callgrind --callgrind-out-file='$out' pamtester $service root authenticate" \
    >"$out.log" 2>&1
  grep -q "successfully authenticated" "$out.log" || { cat "$out.log" >&2; exit 1; }
}
run lean-permit "$tmp/permit.cg"
run lean-mfa "$tmp/mfa.cg"

total() { grep -m1 '^totals:\|^summary:' "$1" | awk '{print $2}'; }
permit=$(total "$tmp/permit.cg")
mfa=$(total "$tmp/mfa.cg")
above=$((mfa - permit))
# Inclusive cost of the functions matching a pattern (the first, largest match of each).
incl() {
  callgrind_annotate --inclusive=yes --threshold=100 "$tmp/mfa.cg" 2>/dev/null |
    grep -E "$1" | head -1 | awk '{gsub(",", "", $1); print $1+0}'
}
pct() { awk -v a="$1" -v b="$above" 'BEGIN { printf "%.1f %%", 100 * a / b }'; }
printf 'pamtester + pam_permit: %d instructions\n' "$permit"
printf 'pamtester + pam_mfa:    %d instructions\n' "$mfa"
printf 'pam_mfa above pam_permit: %d instructions\n' "$above"
if [ -n "$ga_so" ]; then
  run lean-ga "$tmp/ga.cg"
  printf 'pam_google_authenticator above pam_permit: %d instructions\n' \
    $(($(total "$tmp/ga.cg") - permit))
fi
# Exclusive costs grouped by object file and symbol: the loader is ld-linux (dlopen of the
# module and its libraries, relocations, symbol lookups) above the pam_permit run's.
callgrind_annotate --threshold=100 "$tmp/mfa.cg" >"$tmp/mfa.txt" 2>/dev/null
callgrind_annotate --threshold=100 "$tmp/permit.cg" >"$tmp/permit.txt" 2>/dev/null
sum() { # FILE, regex on the "file:function" column
  grep -E '^ *[0-9,]+ ' "$1" | grep -E "$2" | awk '{gsub(",", "", $1); s += $1} END {print s+0}'
}
ld_mfa=$(sum "$tmp/mfa.txt" 'ld-linux|/elf/|dl-')
ld_permit=$(sum "$tmp/permit.txt" 'ld-linux|/elf/|dl-')
loader=$((ld_mfa - ld_permit))
printf '  dynamic loader (ld.so, above pam_permit): %d (%s)\n' "$loader" "$(pct $loader)"
cfg=$(incl 'mfa_login::config::Config::load|Config::from_toml|Config::parse')
printf '  configuration (Config::load, inclusive): %d (%s)\n' "$cfg" "$(pct "$cfg")"
sha=$(sum "$tmp/mfa.txt" 'sha1|sha2|hmac|hkdf|Sha1|Sha256|Sha512|compress')
printf '  SHA-1/SHA-2/HMAC/HKDF (exclusive): %d (%s)\n' "$sha" "$(pct "$sha")"
aead=$(sum "$tmp/mfa.txt" 'chacha20|poly1305|ChaCha|Poly1305')
printf '  AEAD (ChaCha20-Poly1305, exclusive): %d (%s)\n' "$aead" "$(pct "$aead")"
alloc_mfa=$(sum "$tmp/mfa.txt" 'malloc|free|realloc|calloc|_int_|tcache')
alloc_permit=$(sum "$tmp/permit.txt" 'malloc|free|realloc|calloc|_int_|tcache')
alloc=$((alloc_mfa - alloc_permit))
printf '  allocation (libc malloc family, above pam_permit): %d (%s)\n' "$alloc" "$(pct $alloc)"
size=$(stat -c %s "$module")
stripped=$(strip -o "$tmp/stripped.so" "$module" && stat -c %s "$tmp/stripped.so")
printf 'module: %d bytes as built, %d stripped\n' "$size" "$stripped"
printf 'relocations: %s (readelf -r lines with R_X86_64), of them RELATIVE in RELA: %s\n' \
  "$(readelf -rW "$module" | grep -c R_X86_64 || true)" \
  "$(readelf -rW "$module" | grep -c R_X86_64_RELATIVE || true)"
readelf -dW "$module" | grep -E 'RELR|RELACOUNT|RELASZ|FLAGS' | sed 's/^ */  /'
[ -z "$keep" ] || { rm -rf "$keep"; cp -r "$tmp" "$keep"; echo "kept in $keep"; }
