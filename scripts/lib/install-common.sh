# Shared by scripts/install.sh and scripts/install-server.sh (sourced, not run): becoming root,
# and building as the user the checkout belongs to.

# become_root SCRIPT ARGS...: when not root, runs SCRIPT again through sudo (and does not
# return), or, without sudo, says what to run as root and exits.
become_root() {
  [ "$(id -u)" -ne 0 ] || return 0
  local script=$1
  shift
  if command -v sudo >/dev/null; then
    echo "$(basename "$script"): installing needs root: continuing through sudo (the build stays yours)"
    exec sudo "$script" "$@"
  fi
  echo "$(basename "$script"): installing needs root, and sudo is not installed. Run as root:" >&2
  echo "  su -c '$script'" >&2
  exit 1
}

# build_release REPO CARGO_BUILD_ARGS...: `cargo build --release --locked ARGS` in REPO as the
# user who called sudo, or (after `su`) who owns the checkout, so that no root-owned files land
# in it; as root when root owns it. Rust must be installed for that user (rustup).
build_release() {
  local repo=$1
  shift
  local user=${SUDO_USER:-$(stat -c %U "$repo")}
  getent passwd "$user" >/dev/null || user=root
  local hint="curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y"
  local cmd="cd '$repo' && cargo build --release --locked $*"
  echo "==> Building (release) as $user: cargo build --release --locked $*"
  if [ "$user" != root ]; then
    if ! runuser -l "$user" -c 'command -v cargo' >/dev/null; then
      echo "cargo not found for $user; install Rust first, as $user:" >&2
      echo "  $hint" >&2
      exit 1
    fi
    runuser -l "$user" -c "$cmd"
  else
    if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
    command -v cargo >/dev/null || {
      echo "cargo not found; install Rust first:" >&2
      echo "  $hint && . \"\$HOME/.cargo/env\"" >&2
      exit 1
    }
    bash -c "$cmd"
  fi
}

# install_build_deps PACKAGES...: installs the Debian packages that are missing.
install_build_deps() {
  local need=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed || need+=("$pkg")
  done
  [ ${#need[@]} -gt 0 ] || return 0
  echo "==> Installing build dependencies: ${need[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${need[@]}"
}
