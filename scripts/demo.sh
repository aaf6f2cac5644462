#!/usr/bin/env bash
# The main job on the embedded default (an SQLite file, no server needed):
# reference data -> a generated city-scale drop -> ingest and geocode -> identity, analyses,
# network -> meeting packs -> (optionally) the API and web page.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo}
WF=.venv/bin/wayfinder
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DB="sqlite:///$OUT/wayfinder.sqlite"
REF=data/reference
step() { printf '\n== %s\n' "$*"; }

step "reference data: Birmingham postcodes (Code-Point Open), wards and LSOAs"
$WF reference --db "$DB" --codepoint $REF/gazetteer/codepoint_open_2014_b.csv \
  --wards $REF/boundaries/birmingham_wards_2013.geojson \
  --lsoa $REF/boundaries/birmingham_lsoa_2011.geojson

step "MASE areas: an illustrative three-area split of the wards (data/reference/SOURCES.md)"
$WF reference --db "$DB" --mase-areas $REF/mase_areas_birmingham_illustrative.csv

step "a generated city-scale drop (synthetic people on real wards, postcodes, premises)"
$WF synth --out "$OUT/drop" --seed 7 --scale city

step "the pipeline: ingest, geocode, identity, analyses, graph, co-missing groups"
$WF run --db "$DB" --drop "$OUT/drop" --out "$OUT/results" --seed 7

read -r FROM TO CHILD MONTH < <(.venv/bin/python - "$DB" <<'PY'
import sys
from geo.storage.store import open_store
eps = open_store(sys.argv[1]).frame("episodes")
last = eps["reported_at"].max()
print(eps["reported_at"].min().date(), last.date(),
      eps["person_id"].value_counts().index[0], last.tz_convert("Europe/London").strftime("%Y-%m-01"))
PY
)
step "the MOG scorecard for the last month ($MONTH to $TO) and the data-quality report"
mkdir -p "$OUT/packs"
$WF scorecard mog --db "$DB" --from "$MONTH" --to "$TO" --json > "$OUT/packs/mog_scorecard.json"
$WF scorecard mog --db "$DB" --from "$MONTH" --to "$TO" --no-extras
$WF quality --db "$DB" --as-of "$TO 23:59" --out "$OUT/quality"

step "meeting packs (MOG: $MONTH to $TO; COG, MASE: $FROM to $TO)"
$WF pack mog --db "$DB" --from "$MONTH" --to "$TO" --out "$OUT/packs/mog.html"
$WF pack mase --db "$DB" --from "$FROM" --to "$TO" --area South --out "$OUT/packs/mase_south.html"
$WF pack cog --db "$DB" --from "$FROM" --to "$TO" --out "$OUT/packs/cog.html"
$WF pack mase --db "$DB" --from "$FROM" --to "$TO" --child "$CHILD" --out "$OUT/packs/mase.html"

step "the CSE scorecard, a licensing screening of a planted venue and the licensing pack"
$WF scorecard cse --db "$DB" --from "$FROM" --to "$TO" --json > "$OUT/results/scorecard_cse.json"
VENUE_PC=$(.venv/bin/python - "$OUT/drop" <<'PY'
import csv, json, sys
truth = json.load(open(f"{sys.argv[1]}/truth.json"))
venue = truth["venue_hotspots"][0]
row = next(r for r in csv.DictReader(open(f"{sys.argv[1]}/premises.csv")) if r["premises_id"] == venue)
print(row["postcode"] or row["name"])
PY
)
$WF screen "$VENUE_PC" --db "$DB"
$WF pack licensing --db "$DB" --from "$FROM" --to "$TO" --out "$OUT/packs/licensing.html"

step "a demo analyst account (password generated now, never built in)"
PASSWORD=$(.venv/bin/python -c "import secrets; print(secrets.token_urlsafe(12))")
echo "$PASSWORD" | $WF users add demo_analyst --role analyst --db "$DB"
echo "$PASSWORD" > "$OUT/demo_analyst.password"
chmod 600 "$OUT/demo_analyst.password"

step "done"
cat <<TXT
store:      $DB
drop:       $OUT/drop (truth.json holds what was planted)
results:    $OUT/results (hotspots, clusters, premises of concern, trends, groups, graph exports)
packs:      $OUT/packs/{mog,cog,mase,mase_south,licensing}.html, $OUT/packs/mog_scorecard.json
quality:    $OUT/quality (stale open records, unknown children, late interviews, disagreements)
sign in:    demo_analyst / $(cat "$OUT/demo_analyst.password")
TXT
if [ "${DEMO_SERVE:-1}" = "1" ]; then
  step "serving the API and web page on http://127.0.0.1:8000 (Ctrl-C stops)"
  exec $WF serve --db "$DB" --host 127.0.0.1 --port 8000
fi
