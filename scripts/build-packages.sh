#!/usr/bin/env bash
# Build the distribution packages from this checkout:
#
#   scripts/build-packages.sh
#
# Output in target/packages/ (or $CARGO_TARGET_DIR/packages/):
#   libpam-mfa_<version>-1_<arch>.deb   the PAM module (Multi-Arch: same) + pam-auth-update profile
#   mfa-enroll_<version>-1_<arch>.deb   mfa-enroll, the setuid mfa-helper, the configuration,
#                                       the store scripts (Multi-Arch: foreign)
#   mfa-server_<version>-1_<arch>.deb    the push service mfa-server and mfa-push-device, its
#                                       configuration, systemd unit and user (Multi-Arch: foreign)
#   pam_mfa-<version>-1.<arch>.rpm      libpam-mfa and mfa-enroll, for Fedora/RHEL
#   mfa-server-<version>-1.<arch>.rpm    mfa-server, for Fedora/RHEL
#
# Needs cargo-deb and cargo-generate-rpm (cargo install --locked cargo-deb cargo-generate-rpm),
# and from Debian: dpkg-dev, binutils (strip) and gzip. What goes where: docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cargo-deb cargo-generate-rpm dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null || {
    echo "build-packages.sh: '$tool' not found (cargo install --locked cargo-deb cargo-generate-rpm;" \
      "apt-get install dpkg-dev binutils gzip)" >&2
    exit 1
  }
done

target=${CARGO_TARGET_DIR:-target}
# cargo-deb and cargo-generate-rpm read assets named "target/release/..." from the real target
# directory, so the generated files live under it.
gen=$target/release/packaging
out=$target/packages
version=$(cargo pkgid -p pam_mfa | sed 's/.*[#@]//')

echo "==> Release build of pam_mfa.so, mfa-enroll, mfa-helper, mfa-server and mfa-push-device $version"
cargo build --release --locked -p pam_mfa -p mfa-enroll -p mfa-helper -p mfa-server --bins

echo "==> Man pages and shell completions (xtask)"
rm -rf "$gen"
cargo run --locked --quiet -p xtask -- docs "$gen" >/dev/null
gzip -9n "$gen"/man/*
# cargo-generate-rpm packs files as they are: give it stripped copies (cargo-deb strips itself).
mkdir -p "$gen/rpm"
strip --strip-unneeded -o "$gen/rpm/pam_mfa.so" "$target/release/libpam_mfa.so"
strip --strip-unneeded -o "$gen/rpm/mfa-enroll" "$target/release/mfa-enroll"
strip --strip-unneeded -o "$gen/rpm/mfa-helper" "$target/release/mfa-helper"
strip --strip-unneeded -o "$gen/rpm/mfa-server" "$target/release/mfa-server"
strip --strip-unneeded -o "$gen/rpm/mfa-push-device" "$target/release/mfa-push-device"

echo "==> .deb packages (cargo-deb)"
rm -rf "$out"
mkdir -p "$out"
cargo deb --no-build --locked -p pam_mfa --multiarch=same --output "$out/"
# Not --multiarch=foreign: cargo-deb would move every usr/lib/ asset, the helper too, to
# usr/lib/<triplet>/, where pam_mfa.toml's `helper` does not look. Multi-Arch is added below.
cargo deb --no-build --locked -p mfa-enroll --output "$out/"
# Not --multiarch=foreign either: it would move usr/lib/systemd/system/ under the triplet.
cargo deb --no-build --locked -p mfa-server --output "$out/"

# cargo-deb writes no DEBIAN/md5sums; add them, so `dpkg --verify` (and debsums) can check the
# installed files of a security module. mfa-enroll and mfa-server get "Multi-Arch: foreign" here.
for deb in "$out"/*.deb; do
  tree=$(mktemp -d)
  chmod 0755 "$tree"   # it becomes the package's "./" entry: not mktemp's 0700
  dpkg-deb -R "$deb" "$tree"
  case $(dpkg-deb -f "$deb" Package) in mfa-enroll | mfa-server) foreign=1 ;; *) foreign= ;; esac
  if [ -n "$foreign" ] && ! grep -q '^Multi-Arch:' "$tree/DEBIAN/control"; then
    sed -i '/^Architecture:/a Multi-Arch: foreign' "$tree/DEBIAN/control"
  fi
  (cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum >DEBIAN/md5sums)
  chmod 0644 "$tree/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz -b "$tree" "$deb" >/dev/null
  rm -rf "$tree"
done

echo "==> .rpm packages (cargo-generate-rpm)"
cargo generate-rpm -p pam_mfa --output "$out/"
cargo generate-rpm -p mfa-server --output "$out/"

# Versions that are written down twice must agree.
module_deb=$(ls "$out"/libpam-mfa_*.deb)
tool_deb=$(ls "$out"/mfa-enroll_*.deb)
tool_version=$(dpkg-deb -f "$tool_deb" Version)
dpkg-deb -f "$module_deb" Depends | grep -qF "mfa-enroll (= $tool_version)" || {
  echo "build-packages.sh: libpam-mfa must depend on mfa-enroll (= $tool_version):" \
    "update [package.metadata.deb] depends in pam_mfa/Cargo.toml" >&2
  exit 1
}
head -n 1 packaging/debian/changelog | grep -qF "($tool_version)" || {
  echo "build-packages.sh: packaging/debian/changelog has no entry for $tool_version: add one" >&2
  exit 1
}
# The helper must be where the configuration's default `helper` says, setuid root.
helper=$(sed -n 's/^helper = "\(.*\)"$/\1/p' config/pam_mfa.toml)
tool_files=$(dpkg-deb -c "$tool_deb")
grep -qE "^-rwsr-xr-x root/root +[0-9]+ [-0-9]+ [:0-9]+ \.$helper\$" <<<"$tool_files" || {
  echo "build-packages.sh: $tool_deb has no $helper, mode 4755 root/root:" \
    "$(grep mfa-helper <<<"$tool_files" || echo none)" >&2
  exit 1
}
[ "$(dpkg-deb -f "$tool_deb" Multi-Arch)" = foreign ] || {
  echo "build-packages.sh: $tool_deb is not Multi-Arch: foreign" >&2
  exit 1
}
pushd_deb=$(ls "$out"/mfa-server_*.deb)
[ "$(dpkg-deb -f "$pushd_deb" Multi-Arch)" = foreign ] || {
  echo "build-packages.sh: $pushd_deb is not Multi-Arch: foreign" >&2
  exit 1
}
# The unit where systemd looks, and the configuration it names as a conffile.
pushd_files=$(dpkg-deb -c "$pushd_deb")
grep -qE ' \./usr/lib/systemd/system/mfa-server\.service$' <<<"$pushd_files" || {
  echo "build-packages.sh: $pushd_deb has no usr/lib/systemd/system/mfa-server.service" >&2
  exit 1
}
grep -qx /etc/mfa-server/mfa-server.toml < <(dpkg-deb --ctrl-tarfile "$pushd_deb" | tar -xO ./conffiles) || {
  echo "build-packages.sh: /etc/mfa-server/mfa-server.toml is not a conffile of $pushd_deb" >&2
  exit 1
}

echo "==> Packages in $out"
ls -l "$out"
