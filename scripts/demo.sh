#!/usr/bin/env bash
# Try pam_mfa without touching the system:
#
#   sudo scripts/demo.sh [PORT]        (or: sudo make demo)
#
# Builds pam_mfa, then starts a throwaway OpenSSH server on 127.0.0.1 (port 2222 by default)
# that uses it, for a throwaway user "demo" that exists only inside a private mount namespace
# (scripts/sandbox.sh). Log in with the printed ssh command: the first login offers to set up
# an authenticator app (scan the QR code, type a code, note the recovery codes); the next logins
# ask for a code. Ctrl-C stops the server and removes everything it made.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
port=${1:-2222}
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root: sudo $0" >&2; exit 1; }
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || {
  echo "demo.sh: needs OpenSSH's server: apt-get install openssh-server" >&2; exit 1; }

build_user=${SUDO_USER:-root}
echo "==> Building pam_mfa (as $build_user)"
if [ "$build_user" != root ]; then
  sudo -u "$build_user" -H bash -lc "cd '$repo' && cargo build -q -p pam_mfa -p mfa-enroll"
else
  (cd "$repo" && cargo build -q -p pam_mfa -p mfa-enroll)
fi
target=${CARGO_TARGET_DIR:-$repo/target}/debug

dir=$(mktemp -d /tmp/pam_mfa_demo.XXXXXX)
sshd_pid=
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
  rm -rf "$dir"
  echo; echo "Demo stopped; $dir removed."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$repo/scripts/sshd-sandbox.sh" "$dir" "$port" "$target/libpam_mfa.so" "$target/mfa-enroll" demo \
  "$(printf 'enrollment = "on-login"\nallow_opt_out = true\n')" >"$dir/sshd.log" 2>&1 &
sshd_pid=$!
for _ in $(seq 50); do
  grep -q "Server listening" "$dir/sshd.log" 2>/dev/null && break
  kill -0 "$sshd_pid" 2>/dev/null || { cat "$dir/sshd.log" >&2; exit 1; }
  sleep 0.2
done

cat <<EOM

A throwaway sshd with pam_mfa is listening on 127.0.0.1:$port (user "demo", public key + code).
In another terminal, log in (as root, since the demo key is root's):

  sudo ssh -i $dir/client_key -p $port -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no demo@127.0.0.1

First login: choose 1, scan the QR code with an authenticator app (or run
  oathtool --totp -b SECRET  with the secret shown), type the code, keep the recovery codes.
Next logins: the key, then a code from the app (each code works once).

The pam_mfa configuration in the sandbox: $dir/etc.upper/pam_mfa/pam_mfa.toml
sshd's log: $dir/sshd.log
Press Ctrl-C to stop the server and remove everything.
EOM
wait "$sshd_pid"
