#!/usr/bin/env bash
# Keeps the documented setup paths true: runs the command blocks of README.md and
# docs/push-service.md that are marked `<!-- doc-test: NAME -->` as written, as root, on a
# throwaway copy of this machine (scripts/throwaway-system.sh: overlays over /etc, /usr, /var,
# /opt and /root, then a private network namespace with push.example.org at 192.0.2.10 on its
# loopback). Nothing on the machine changes.
#
#   scripts/test-docs.sh             standalone install and push service from source (CI)
#   scripts/test-docs.sh --package   the same from the .debs in target/packages/
#                                    (scripts/test-packages.sh runs it after building them)
#
# The path: install pam_mfa (README: scripts/install.sh, or the packages) and the push service
# (docs/push-service.md: scripts/install-server.sh, or its package); try the service on loopback
# as an unprivileged user; TLS and public_url as the service user; start it in the background;
# check it over TLS; add host web1; join web1 to it (README: credential, CA, [push]); a user pairs
# mfa-push-device in place of a phone with `mfa-enroll push` (through the setuid helper); sudo
# gets pam_mfa (README: config/pam.d/sudo); a sudo login with password and push approval. The
# interactive steps (pairing, approving) are driven here with the link, code and number shown.
# Needs root. Builds in release mode (cached after scripts/install.sh and the package build).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ "$(id -u)" -eq 0 ] || { echo "test-docs.sh: run as root" >&2; exit 1; }

# block FILE NAME: the command block marked `<!-- doc-test: NAME -->` in FILE.
block() {
  awk -v want="<!-- doc-test: $2 -->" '
    $0 == want { marked = 1; next }
    marked == 1 { if ($0 == "```sh") { marked = 2; next } else exit 1 }
    marked == 2 { if ($0 == "```") { found = 1; exit } print }
    END { exit !found }' "$repo/$1" || { echo "test-docs.sh: no block '$2' in $1" >&2; exit 1; }
}

# Inside the throwaway system: run a block as written, in DIR (as root, or as USER, with HOME),
# or only its line LINE.
if [ "${1:-}" = --run-block ]; then
  shift
  file=$1 name=$2 dir=$3 line=${4:-} user=${5:-root}
  text=$(block "$file" "$name")
  [ -z "$line" ] || text=$(sed -n "${line}p" <<<"$text")
  echo "--- $file, $name${line:+, line $line} (as $user, in $dir):"
  sed 's/^/    /' <<<"$text"
  cd "$dir"
  if [ "$user" = root ]; then exec bash -euo pipefail -c "$text"; fi
  exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- \
    env HOME="$dir" bash -euo pipefail -c "$text"
fi

mode=source
case "${1:-}" in
  --package) mode=package ;;
  "") ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
start=$SECONDS

work=$(mktemp -d /tmp/pam_mfa-test-docs.XXXXXX)
chmod 0700 "$work"
trap 'rm -rf "$work"' EXIT
if [ "$mode" = package ]; then
  compgen -G "target/packages/*.deb" >/dev/null ||
    { echo "test-docs.sh: no target/packages/*.deb: run scripts/build-packages.sh first" >&2; exit 1; }
fi

# Phase 1, with the machine's network (apt, no listening sockets): install.
cat >"$work/install.sh" <<EOF
#!/bin/bash
set -euo pipefail
run() { "$repo/scripts/test-docs.sh" --run-block "\$@"; }
# What the documented steps use besides pam_mfa: sudo (the README's commands and the login
# below), curl (docs/push-service.md) and ip/ss. Installed into the throwaway system only.
need=()
for p in sudo curl iproute2; do
  dpkg-query -W -f='\${db:Status-Status}' "\$p" 2>/dev/null | grep -qx installed || need+=("\$p")
done
if [ \${#need[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "\${need[@]}" >/dev/null
fi
if [ "$mode" = package ]; then
  # apt may ask before installing what the packages depend on: yes.
  run README.md install-packages "$repo" < <(yes)
  run docs/push-service.md pushd-install-package "$repo" < <(yes)
else
  run README.md quick-start "$repo" 1   # its first line: scripts/install.sh
  run docs/push-service.md pushd-install-source "$repo"
fi
EOF

# Phase 2, in a private network namespace: configure, run, join, pair, log in.
cat >"$work/use.sh" <<'EOF'
#!/bin/bash
set -euo pipefail
repo=$1
work=$(mktemp -d /root/test-docs.XXXXXX)   # inside the throwaway system
run() { "$repo/scripts/test-docs.sh" --run-block "$@"; }
fail() { echo "test-docs.sh: FAILED: $*" >&2; exit 1; }
# wait_for FILE REGEX: until FILE matches (20 s at most).
wait_for() {
  for _ in $(seq 200); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  fail "waited for '$2'; got: $(cat "$1" 2>/dev/null)"
}
# listener PORT: the pid listening on PORT in this (private) network namespace.
listener() { ss -Hltnp "sport = :$1" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2; }
wait_listen() {
  for _ in $(seq 200); do [ -z "$(listener "$1")" ] || return 0; sleep 0.1; done
  fail "nothing listens on port $1"
}
pids=()
# On the way out, whatever was started here and still runs (in this private network namespace,
# every listener is ours); otherwise the namespace would outlive the test.
cleanup() {
  for p in "${pids[@]}" $(ss -Hltnp | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    kill -TERM "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The names of the examples: push.example.org at 192.0.2.10, on this namespace's loopback.
ip addr add 192.0.2.10/32 dev lo
echo "192.0.2.10 push.example.org" >>/etc/hosts
mkdir -p /run/sudo && mount -t tmpfs -o mode=0711 docs_sudo /run/sudo

echo "==> The loopback trial, as an unprivileged user (docs/push-service.md)"
trial=$(mktemp -d /var/tmp/pushd-trial.XXXXXX)
chmod 1777 "$trial"
mount --bind "$trial" /tmp   # /tmp/pushd of the example, private to this namespace
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- env HOME=/tmp "$@"; }
run docs/push-service.md pushd-loopback /tmp "" nobody
# Not through the function: $! must be the service itself (setpriv and env exec it).
setpriv --reuid=nobody --regid=nogroup --clear-groups -- env HOME=/tmp \
  mfa-server --config /tmp/pushd/mfa-server.toml serve >"$work/trial.log" 2>&1 &
trial_pid=$!
pids+=("$trial_pid")
wait_listen 8443
health=$(as_nobody curl -sS --cacert /tmp/pushd/tls/ca.pem https://localhost:8443/v2/health)
grep -q '"status":"ok"' <<<"$health" || fail "loopback trial: $health"
echo "  ok: the trial service answers on https://localhost:8443: $health"
kill -TERM "$trial_pid"
wait "$trial_pid" || fail "the trial service did not stop cleanly: $(cat "$work/trial.log")"
umount /tmp

echo "==> The service (docs/push-service.md, 'Set it up')"
run docs/push-service.md pushd-configure /
run docs/push-service.md pushd-start-background /
wait_listen 8443
pushd_pid=$(listener 8443)
pids+=("$pushd_pid")
[ "$(ps -o user= -p "$pushd_pid")" = mfa-server ] || fail "the service runs as $(ps -o user= -p "$pushd_pid")"
echo "  ok: started in the background, pid $pushd_pid, as mfa-server"
run docs/push-service.md pushd-check-and-add-host / | tee "$work/check.out"
grep -q '"status":"ok"' "$work/check.out" || fail "health check"
[ "$(stat -c '%U %a' /var/lib/mfa-server/web1.json)" = "mfa-server 600" ] || fail "web1.json: $(stat -c '%U %a' /var/lib/mfa-server/web1.json)"
[ -f /var/log/mfa-server/audit.log ] || fail "no audit log"

echo "==> Host web1 joins (README, 'Push approval')"
web1=$(mktemp -d /root/web1.XXXXXX)
cp /var/lib/mfa-server/web1.json /etc/mfa-server/tls/ca.pem "$web1/"   # what scp would do
run README.md push-host "$web1"

echo "==> A user pairs a phone (mfa-push-device) with mfa-enroll push, without sudo"
user=docuser password='correct horse docs'
home=/var/tmp/$user
useradd --create-home --home-dir "$home" --shell /bin/bash "$user"
echo "$user:$password" | chpasswd
echo "$user ALL=(ALL) ALL" >"/etc/sudoers.d/$user"
chmod 0440 "/etc/sudoers.d/$user"
cp "$web1/ca.pem" "$home/ca.pem"
chown "$user:" "$home/ca.pem"
as_user() { setpriv --reuid="$user" --regid="$user" --init-groups -- env HOME="$home" USER="$user" LOGNAME="$user" "$@"; }
# drive OUT COMMAND...: runs COMMAND as the user with its input from the fifo on fd 3.
drive() {
  local out=$1
  shift
  rm -f "$work/in"
  mkfifo "$work/in"
  (cd "$home" && as_user "$@" <"$work/in" >"$out" 2>&1) &
  driven=$!
  exec 3>"$work/in"
}
number() { grep -Eo 'type [0-9]+ on it' "$1" | tail -n 1 | grep -Eo '[0-9]+'; }
drive "$work/enroll.out" mfa-enroll push
wait_for "$work/enroll.out" 'https://push\.example\.org:8443/pair#c=[^ ]+'
link=$(grep -Eo 'https://push\.example\.org:8443/pair#c=[^ ]+' "$work/enroll.out" | head -n 1)
(cd "$home" && as_user mfa-push-device pair "$link" --name laptop --ca-file ca.pem) | tee "$work/pair.out"
code=$(grep -Eo 'pairing code: [0-9 ]+' "$work/pair.out" | tr -cd '0-9')
[ ${#code} -eq 6 ] || fail "no pairing code: $(cat "$work/pair.out")"
wait_for "$work/enroll.out" 'Type the pairing code'
echo "$code" >&3
wait_for "$work/enroll.out" 'Test push sent to .laptop.: type [0-9]+ on it'
(cd "$home" && as_user mfa-push-device approve --number "$(number "$work/enroll.out")")
echo >&3
wait_for "$work/enroll.out" 'Press Enter when you have stored'
echo >&3
exec 3>&-
wait "$driven" || fail "mfa-enroll push: $(cat "$work/enroll.out")"
grep -q "Push approval is set up with 'laptop'" "$work/enroll.out" || fail "$(cat "$work/enroll.out")"
echo "  ok: paired 'laptop', test push approved"
mfa-enroll --user "$user" status | tee "$work/status.out"
grep -q "Push device: *laptop" "$work/status.out" || fail "status does not show the device"

echo "==> sudo with pam_mfa (README, 'Enabling for sudo'), approved by push"
run README.md enable-sudo "$repo"
# On a terminal, as a user types it (script(1) gives it one; no -S or -p, which change the
# prompts): sudo's stdout is a terminal then, so its messages show at once.
drive "$work/sudo.out" script -qfec "sudo -k true" /dev/null
wait_for "$work/sudo.out" "password for $user"
echo "$password" >&3
# sudo asks modules for silence (PAM_SILENT): the prompt itself says that Enter waits.
wait_for "$work/sudo.out" "Push sent to 'laptop': type [0-9]+ on it to approve, then press Enter \\(or type a code\\); Enter waits up to [0-9]+ s: "
echo >&3   # Enter before the phone answers
sleep 1
(cd "$home" && as_user mfa-push-device approve --number "$(number "$work/sudo.out")")
exec 3>&-
wait "$driven" || fail "sudo: $(cat "$work/sudo.out")"
sed 's/^/    /' "$work/sudo.out"
echo "  ok: sudo let $user in after the password and the approval on 'laptop'"

kill -TERM "$pushd_pid"
for _ in $(seq 100); do kill -0 "$pushd_pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$pushd_pid" 2>/dev/null || fail "the service did not stop on SIGTERM"
grep -q '"event":"service.stopped"' /var/log/mfa-server/audit.log || fail "no service.stopped in the audit log"
EOF
chmod +x "$work/install.sh" "$work/use.sh"

echo "==> test-docs.sh ($mode): installing, as documented"
mkdir -m 0700 "$work/root"
scripts/throwaway-system.sh "$work/root" "$work/install.sh"
echo "==> test-docs.sh ($mode): setting up and using, as documented (private network)"
scripts/throwaway-system.sh --net "$work/root" "$work/use.sh" "$repo"
echo "test-docs.sh: the documented setup ($mode) works as written ($((SECONDS - start)) s)"
