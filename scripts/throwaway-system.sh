#!/usr/bin/env bash
# Runs a command as root on a throwaway copy of this machine: what it installs, creates or
# deletes under /etc, /usr, /var, /opt and /root lands in DIR, and the machine is unchanged.
#
#   scripts/throwaway-system.sh [--net] [--hide-sudo] DIR COMMAND [ARGS...]
#
# COMMAND runs in a private mount namespace where those five directories are overlayfs mounts
# (lower: the real ones; upper: DIR/<name>.upper), /run/systemd is empty (nothing there talks to
# the machine's systemd) and everything else (/tmp, /home, /work, the checkout) is shared.
#   --net        also a private network namespace: only loopback (up), so servers may listen
#                on any address and port without meeting the machine's
#   --hide-sudo  sudo is not there (a root shell on a server or in a container)
# DIR must be a fresh directory outside those five (e.g. mktemp -d under /tmp), writable only
# by root; delete it afterwards. Used by scripts/test-docs.sh, which runs the documented setup
# commands as written, and to try the README's commands on a "fresh" system. Needs root.
set -euo pipefail

net= hide_sudo=
while [ $# -gt 0 ]; do
  case "$1" in
    --net) net=1 ;;
    --hide-sudo) hide_sudo=1 ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 2 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
dir=$(cd "$1" && pwd)
shift
[ "$(id -u)" -eq 0 ] || { echo "throwaway-system.sh: needs root" >&2; exit 1; }
case "$dir/" in
  /etc/* | /usr/* | /var/* | /opt/* | /root/*) echo "throwaway-system.sh: DIR must be outside /etc /usr /var /opt /root" >&2; exit 2 ;;
esac
for d in etc usr var opt root; do mkdir -p "$dir/$d.upper" "$dir/$d.work"; done

unshare_args=(--mount --propagation private)
[ -z "$net" ] || unshare_args+=(--net)
exec unshare "${unshare_args[@]}" -- bash -c '
  set -e
  dir=$1 net=$2 hide_sudo=$3
  shift 3
  for d in etc usr var opt root; do
    mount -t overlay "throwaway_$d" \
      -o "lowerdir=/$d,upperdir=$dir/$d.upper,workdir=$dir/$d.work" "/$d"
  done
  if [ -d /run/systemd ]; then mount -t tmpfs -o mode=0755 throwaway_systemd /run/systemd; fi
  if [ -n "$hide_sudo" ]; then
    for s in /usr/bin/sudo /usr/bin/sudoedit; do [ ! -e "$s" ] || rm -f "$s"; done
  fi
  if [ -n "$net" ]; then ip link set lo up; fi
  exec "$@"' throwaway "$dir" "$net" "$hide_sudo" "$@"
