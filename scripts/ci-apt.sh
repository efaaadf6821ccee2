#!/usr/bin/env bash
# Installs the Debian packages the tests need, only those missing (CI and contributors, as root).
set -euo pipefail
packages=(ffmpeg espeak-ng sox chromium radosgw ceph-mon ceph-osd ceph-mgr nginx podman runc debootstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
