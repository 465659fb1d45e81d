#!/usr/bin/env bash
# Debian packages Trawl uses beside PyPI: pff-tools (pffexport) and pst-utils (readpst) read
# what libpff-python cannot, and check PST counts in the tests. Installed when missing and root.
set -euo pipefail
missing=()
command -v pffexport >/dev/null 2>&1 || missing+=(pff-tools)
command -v readpst >/dev/null 2>&1 || missing+=(pst-utils)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "note: ${missing[*]} not installed; run 'sudo apt-get install ${missing[*]}'" \
       "(the PST fallbacks and their tests need them)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
