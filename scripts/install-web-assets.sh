#!/usr/bin/env bash
# Installs the front-end files the services serve themselves (web/package.json:
# Swagger UI for the admin API's /api/docs, htmx and Chart.js for the console) into web/node_modules, once per
# version of web/package-lock.json, so the pages work with no internet.
# About 13 MB, a few seconds. --ignore-scripts: no install script runs (one
# dependency's would only phone home).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
web="$here/web"
stamp="$web/node_modules/.installed-$(sha256sum < "$web/package-lock.json" | cut -c1-16)"
started=${HYBRIDFLOW_STARTED:-$(date +%s.%N)}
say() { bash "$here/scripts/say.sh" "$started" "$@" >&2; }

if [ -f "$stamp" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  say "npm is missing: install Node.js (Debian: apt-get install nodejs npm) for the API docs page's files"
  exit 1
fi
say "installing the web assets of web/package.json (Swagger UI for /api/docs) into web/node_modules..."
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
(cd "$web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
rm -f "$web"/node_modules/.installed-*
touch "$stamp"
say "web assets installed"
