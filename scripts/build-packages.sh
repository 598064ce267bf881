#!/usr/bin/env bash
# Build the distribution packages from this checkout:
#
#   scripts/build-packages.sh
#
# Output in target/packages/ (or $CARGO_TARGET_DIR/packages/):
#   libpam-mfa_<version>-1_<arch>.deb   the PAM module (Multi-Arch: same) + pam-auth-update profile
#   mfa-enroll_<version>-1_<arch>.deb   mfa-enroll, /etc/pam_mfa/pam_mfa.toml, the store scripts
#   pam_mfa-<version>-1.<arch>.rpm      all of it, for Fedora/RHEL
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

echo "==> Release build of pam_mfa.so and mfa-enroll $version"
cargo build --release --locked -p pam_mfa -p mfa-enroll

echo "==> Man pages and shell completions (xtask)"
rm -rf "$gen"
cargo run --locked --quiet -p xtask -- docs "$gen" >/dev/null
gzip -9n "$gen"/man/*
# cargo-generate-rpm packs files as they are: give it stripped copies (cargo-deb strips itself).
mkdir -p "$gen/rpm"
strip --strip-unneeded -o "$gen/rpm/pam_mfa.so" "$target/release/libpam_mfa.so"
strip --strip-unneeded -o "$gen/rpm/mfa-enroll" "$target/release/mfa-enroll"

echo "==> .deb packages (cargo-deb)"
rm -rf "$out"
mkdir -p "$out"
cargo deb --no-build --locked -p pam_mfa --multiarch=same --output "$out/"
cargo deb --no-build --locked -p mfa-enroll --multiarch=foreign --output "$out/"

# cargo-deb writes no DEBIAN/md5sums; add them, so `dpkg --verify` (and debsums) can check the
# installed files of a security module.
for deb in "$out"/*.deb; do
  tree=$(mktemp -d)
  dpkg-deb -R "$deb" "$tree"
  (cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum >DEBIAN/md5sums)
  chmod 0644 "$tree/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz -b "$tree" "$deb" >/dev/null
  rm -rf "$tree"
done

echo "==> .rpm package (cargo-generate-rpm)"
cargo generate-rpm -p pam_mfa --output "$out/"

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

echo "==> Packages in $out"
ls -l "$out"
