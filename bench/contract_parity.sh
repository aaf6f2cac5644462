#!/bin/bash
# Byte-identity of `wayfinder run` outputs between two checkouts (issue 17, contract and registry).
#   bench/contract_parity.sh CODE_DIR DROP OUT_DIR    fresh SQLite store, bundled reference, run --drop
#   bench/contract_parity.sh --compare OUT_A OUT_B     cmp every output file of two runs
# pipeline_run.json holds timings (seconds, cpu_seconds, peak_rss_mb, phase_seconds): compare it
# with those keys left out.
set -e
PY=/work/main/.venv/bin/python
if [ "$1" = "--compare" ]; then
  A=$2/out; B=$3/out
  for f in $(ls "$A" | sort); do
    if cmp -s "$A/$f" "$B/$f"; then echo "identical $f"; else echo "DIFFERENT $f"; fi
  done
  diff <(ls "$A") <(ls "$B") && echo "same file list"
  exit 0
fi
CODE=$1; DROP=$2; OUT=$3
REF=$CODE/data/reference
rm -rf "$OUT"; mkdir -p "$OUT"
DB="sqlite:///$OUT/store.sqlite"
cd "$CODE"
PYTHONPATH=$CODE $PY -m api.cli reference --db "$DB" --codepoint $REF/gazetteer/codepoint_open_2014_b.csv \
  --wards $REF/boundaries/birmingham_wards_2013.geojson --lsoa $REF/boundaries/birmingham_lsoa_2011.geojson \
  > "$OUT/reference.log" 2>&1
PYTHONPATH=$CODE $PY -m api.cli run --db "$DB" --drop "$DROP" --out "$OUT/out" --seed 0 > "$OUT/run.log" 2>&1
