#!/usr/bin/env bash
# Debian packages Trawl uses beside PyPI, installed when missing and running as root:
# - pff-tools (pffexport) reads what libpff-python cannot; pst-utils (readpst) checks PST counts;
# - unar decompresses RAR entries for rarfile;
# - tesseract-ocr lets Tika OCR images and image-only PDFs when tika.ocr is switched on.
set -euo pipefail
missing=()
command -v pffexport >/dev/null 2>&1 || missing+=(pff-tools)
command -v readpst >/dev/null 2>&1 || missing+=(pst-utils)
command -v unar >/dev/null 2>&1 || missing+=(unar)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "note: ${missing[*]} not installed; run 'sudo apt-get install ${missing[*]}'" \
       "(PST fallbacks, RAR entries and OCR need them; their tests skip without them)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
