#!/usr/bin/env bash
# GDAL's command-line tools (ogrinfo, ogr2ogr; OAPIF and MVT drivers) for the tests that drive
# real OGC clients against a served store (tests/api/test_ogc_clients.py). Idempotent.
set -euo pipefail
if ! command -v ogrinfo >/dev/null 2>&1; then
  echo "ensure_gdal: installing Debian gdal-bin"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq gdal-bin >/dev/null
fi
echo "ensure_gdal: $(ogrinfo --version)"
