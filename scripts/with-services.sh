#!/usr/bin/env bash
# Runs a command with Elasticsearch and Tika up. Services this script starts, it stops again,
# whatever the command's outcome; services that were already running are left running.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
trawl="$here/.venv/bin/trawl"
started=0
if ! "$trawl" services status >/dev/null 2>&1; then
  "$trawl" services up
  started=1
fi
stop_services() {
  if [ "$started" = 1 ]; then "$trawl" services down >/dev/null || true; fi
}
trap stop_services EXIT
"$@"
