#!/usr/bin/env bash
# Proves that the test suite neither reads nor writes the host's pam_mfa configuration and
# store (CI runs it around scripts/test.sh; needs root):
#
#   scripts/host-store-canary.sh enroll   before the suite
#   scripts/host-store-canary.sh check    after it: fails if anything there changed or was read
#
# `enroll` creates the host store as scripts/install.sh would (config/pam_mfa.toml as
# /etc/pam_mfa/pam_mfa.toml, then `mfa-enroll init`; existing files are kept), creates a system
# user with a fresh name (pam-mfa-canary-XXXXXX: pam_mfa refuses names that are not accounts),
# enrolls it with the built mfa-enroll, and records every file and directory under
# /etc/pam_mfa and /var/lib/pam_mfa: type, mode, owner, size, content hash, modification and
# change times, and an access time set back to 1970, so that any read since then moves it
# (relatime updates an access time that is not newer than the modification time). `check`
# compares without reading first, then lists and hashes again, checks that the canary still
# decodes, and removes what `enroll` created (the user too), so that the install step after it starts from the
# state the machine had (a fresh machine: no /etc/pam_mfa).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "host-store-canary.sh: run as root" >&2; exit 1; }
etc=/etc/pam_mfa
state=/var/lib/pam_mfa
record=/var/tmp/pam_mfa-host-store-canary
enroll=${CARGO_TARGET_DIR:-target}/debug/mfa-enroll

# listing: every path with its type, mode, owner, size and content hash (this reads them all).
listing() {
  find "$etc" "$state" -printf '%p %y %m %u:%g %s\n' | sort | while read -r p rest; do
    h=-
    [ ! -f "$p" ] || h=$(sha256sum "$p" | cut -d' ' -f1)
    echo "$p $rest $h"
  done
}
# times PATHS...: modification, change and access times, without reading anything.
times() { stat -c '%n %Y %Z %X' "$@"; }

case "${1:-}" in
  enroll)
    rm -rf "$record"
    mkdir -m 0700 "$record"
    user=pam-mfa-canary-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
    echo "$user" >"$record/user"
    for d in "$etc" "$state"; do [ -e "$d" ] || echo "$d" >>"$record/created"; done
    [ -x "$enroll" ] || cargo build --quiet -p mfa-enroll
    install -d -m 0755 "$etc"
    [ -e "$etc/pam_mfa.toml" ] || install -m 0644 config/pam_mfa.toml "$etc/pam_mfa.toml"
    "$enroll" init >/dev/null
    "$enroll" --user "$user" totp --yes --json >"$record/enrollment.json" 2>"$record/enroll.err" ||
      { cat "$record/enroll.err" >&2; exit 1; }
    listing >"$record/listing"
    mapfile -t paths < <(cut -d' ' -f1 "$record/listing")
    touch -a -d @0 "${paths[@]}"
    times "${paths[@]}" >"$record/times"
    options=$(findmnt -no OPTIONS -T "$state")
    case ",$options," in
      *,noatime,*) echo "host-store-canary: $state is mounted noatime: reads cannot be seen, only changes" ;;
      *) echo "host-store-canary: reads are seen through access times ($options)" ;;
    esac
    echo "host-store-canary: enrolled $user in the host store; $(wc -l <"$record/listing") paths recorded"
    ;;
  check)
    [ -f "$record/times" ] || { echo "host-store-canary: run 'enroll' first" >&2; exit 1; }
    user=$(cat "$record/user")
    mapfile -t paths < <(cut -d' ' -f1 "$record/listing")
    failed=
    if ! diff -u "$record/times" <(times "${paths[@]}" 2>&1) >"$record/times.diff"; then
      echo "host-store-canary: FAILED: read or changed during the suite (path mtime ctime atime):" >&2
      cat "$record/times.diff" >&2
      failed=1
    fi
    if ! diff -u "$record/listing" <(listing) >"$record/listing.diff"; then
      echo "host-store-canary: FAILED: files under $etc or $state differ:" >&2
      cat "$record/listing.diff" >&2
      failed=1
    fi
    [ -z "$failed" ] || exit 1
    status=$("$enroll" --user "$user" status)
    grep -q "^$user: enrolled" <<<"$status" || { echo "host-store-canary: FAILED: $status" >&2; exit 1; }
    echo "host-store-canary: unchanged and unread: $(wc -l <"$record/listing") paths under $etc and $state; $user still enrolled"
    "$enroll" --user "$user" remove --yes >/dev/null
    userdel "$user"
    if [ -f "$record/created" ]; then
      while read -r d; do rm -rf "$d"; done <"$record/created"
      echo "host-store-canary: removed $(tr '\n' ' ' <"$record/created")(they did not exist before)"
    fi
    rm -rf "$record"
    ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
