#!/usr/bin/env bash
# A throwaway system view for tests and the demo, without changing the host.
#
#   scripts/sandbox.sh add-user DIR NAME UID [PASSWORD]   add a user (home DIR/home/NAME)
#   scripts/sandbox.sh add-alias DIR NAME UID             another passwd name for UID (root/toor)
#   scripts/sandbox.sh run DIR MODULE COMMAND [ARGS...]   run COMMAND in the sandbox
#
# COMMAND runs in a private mount namespace (unshare -m) in which /etc and the system's PAM
# module directory are overlayfs mounts: files under DIR/etc.upper appear in /etc (put pam.d
# files, /etc/pam_mfa/pam_mfa.toml, ... there), users added with add-user exist (in place of
# any host account with the same name or uid: the sandbox has its own user database), and MODULE
# appears as pam_mfa.so. Everything disappears with the namespace; the host's /etc and module
# directory are never written. Needs root and overlayfs. DIR must be a directory that only root
# can write (the tests use a fresh mktemp -d).
set -euo pipefail

usage() { sed -n '2,14p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2

security_dir() {
  local ma
  ma=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
  if [ -n "$ma" ] && [ -d "/usr/lib/$ma/security" ]; then echo "/usr/lib/$ma/security"; else echo /usr/lib/security; fi
}

case $cmd in
  add-user)
    [ $# -ge 2 ] || usage
    name=$1 uid=$2 password=${3:-}
    up=$dir/etc.upper
    mkdir -p "$up" "$dir/home/$name"
    for f in passwd group shadow; do [ -e "$up/$f" ] || cp -p "/etc/$f" "$up/$f"; done
    # The sandbox's own user database: a host account with this name or uid (an `alice` of the
    # machine) is left out of the sandbox's view, and only these files answer (nsswitch), so
    # the tests never depend on the accounts the machine happens to have.
    for f in passwd group shadow; do
      awk -F: -v OFS=: -v n="$name" -v id="$uid" -v f="$f" '
        $1 == n || (f != "shadow" && $3 == id) { next }
        f == "group" { m = ""; k = split($4, a, ","); for (i = 1; i <= k; i++) if (a[i] != n) m = m (m == "" ? "" : ",") a[i]; $4 = m }
        { print }' "$up/$f" > "$up/$f.new"
      chown --reference="$up/$f" "$up/$f.new"
      chmod --reference="$up/$f" "$up/$f.new"
      mv "$up/$f.new" "$up/$f"
    done
    if [ ! -e "$up/nsswitch.conf" ]; then
      sed -E 's/^(passwd|group|shadow|gshadow):.*/\1: files/' /etc/nsswitch.conf > "$up/nsswitch.conf"
      chmod 0644 "$up/nsswitch.conf"
    fi
    hash='*'
    [ -z "$password" ] || hash=$(openssl passwd -6 -stdin <<<"$password")
    echo "$name:x:$uid:$uid:pam_mfa sandbox user:$dir/home/$name:/bin/sh" >> "$up/passwd"
    echo "$name:x:$uid:" >> "$up/group"
    echo "$name:$hash:19000:0:99999:7:::" >> "$up/shadow"
    chown "$uid:$uid" "$dir/home/$name"
    ;;
  add-alias)
    # A second passwd entry for an existing uid, after the first (getpwuid finds the first).
    [ $# -eq 2 ] || usage
    name=$1 uid=$2
    up=$dir/etc.upper
    for f in passwd shadow; do [ -e "$up/$f" ] || cp -p "/etc/$f" "$up/$f"; done
    echo "$name:x:$uid:$uid:pam_mfa sandbox alias:/nonexistent:/bin/sh" >> "$up/passwd"
    echo "$name:*:19000:0:99999:7:::" >> "$up/shadow"
    ;;
  run)
    # With PAM_MFA_SANDBOX_SYSLOG=SOCKET (a datagram socket), /dev/log in the namespace is
    # SOCKET: the syslog lines of COMMAND and its children (the setuid helper too) reach the
    # caller; /dev is then a private overlay as well.
    [ $# -ge 2 ] || usage
    module=$1
    shift
    sec=$(security_dir)
    mkdir -p "$dir"/{etc.upper,etc.work,sec.upper,sec.work}
    cp "$module" "$dir/sec.upper/pam_mfa.so"
    chmod 0644 "$dir/sec.upper/pam_mfa.so"
    exec unshare --mount --propagation private -- bash -c '
      set -e
      mount -t overlay pam_mfa_etc -o "lowerdir=/etc,upperdir=$1/etc.upper,workdir=$1/etc.work" /etc
      mount -t overlay pam_mfa_sec -o "lowerdir=$2,upperdir=$1/sec.upper,workdir=$1/sec.work" "$2"
      if [ -n "${PAM_MFA_SANDBOX_SYSLOG:-}" ]; then
        # /dev/log is the caller'"'"'s socket: /dev becomes a private overlay (its submounts
        # moved over), in which /dev/log is a file with the socket bound onto it.
        dev=$(mktemp -d "$1/dev.XXXXXX")
        mkdir "$dev/upper" "$dev/work"
        for m in pts shm mqueue; do
          if mountpoint -q "/dev/$m"; then mkdir -p "$dev/keep/$m"; mount --rbind "/dev/$m" "$dev/keep/$m"; fi
        done
        mount -t overlay pam_mfa_dev -o "lowerdir=/dev,upperdir=$dev/upper,workdir=$dev/work" /dev
        for m in pts shm mqueue; do
          if [ -d "$dev/keep/$m" ]; then mount --move "$dev/keep/$m" "/dev/$m"; fi
        done
        rm -f /dev/log
        : > /dev/log
        mount --bind "$PAM_MFA_SANDBOX_SYSLOG" /dev/log
        unset PAM_MFA_SANDBOX_SYSLOG
      fi
      shift 2
      exec "$@"' sandbox "$dir" "$sec" "$@"
    ;;
  *) usage ;;
esac
