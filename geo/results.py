"""The registry of analysis results: one entry per output of `wayfinder analyse`, `network` and
`run` (shared/DATA_CONTRACT.md, "Commands and outputs").

Each entry says the name it is stored under (``Store.write_result``), the pipeline step that
produces it, its file in the output DIR, its columns (the contract's, then every column the file
carries), its map layer and the route that serves it, and so its disclosure rule: the roles of
that route or layer (``api.roles``) and the count fields banded below the small number and the
fields derived from them (``geo.disclosure``). The writers, the pipeline's resume check, the API
layers and the meeting packs read names, files and columns from here; a test checks every file
declared is written with exactly the declared columns.

geo is the lowest layer, so network, maps and api can all import this module.

>>> AREA_HOTSPOTS_WARD.file, AREA_HOTSPOTS_WARD.layer
('area_hotspots_ward.geojson', 'hotspots_ward')
>>> area_hotspots("lsoa").name
'area_hotspots_lsoa'
"""
from __future__ import annotations

from dataclasses import dataclass

from geo.disclosure import COUNT_FIELDS, DERIVED_FIELDS

#: the pipeline steps that produce results (api.jobs.pipeline.STEPS)
STEPS = ("identity", "analyses", "graph", "groups", "results")


@dataclass(frozen=True)
class Result:
    """One analysis output.

    name: stored under this name (``Store.write_result``); None when only a file is written.
    key: the registry's own id (the stored name, or the file's stem for a file-only output).
    file: its file in the output DIR (None: stored only). promised: the contract names the file
    (``wayfinder run`` resumes a step whose promised files are missing). optional: written only
    when its input exists (LSOA boundaries). contract: the columns DATA_CONTRACT.md states, in its
    order; columns: every column (GeoJSON properties, CSV header, keys of a JSON object or of the
    records of a JSON list) the file carries, in order, the contract's among them in their order.
    layer: the map layer / OGC collection (api.jobs.layers); route: the API route that serves it.
    """

    key: str
    step: str
    name: str | None = None
    file: str | None = None
    promised: bool = False
    optional: bool = False
    contract: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    layer: str | None = None
    route: str | None = None

    @property
    def counts(self) -> tuple[str, ...]:
        """Count fields banded below the small number in minimised views (geo.disclosure)."""
        return tuple(c for c in self.columns or () if c in COUNT_FIELDS)

    @property
    def derived(self) -> tuple[str, ...]:
        """Fields computed from counts, withheld where a count is banded (geo.disclosure)."""
        return tuple(c for c in self.columns or () if c in DERIVED_FIELDS)


def _cols(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_HOTSPOT_CONTRACT = _cols("area_code area_name episodes children gi_z gi_p gi_q gi_bin lisa_i "
                          "lisa_p lisa_q lisa_type")
_HOTSPOT_COLUMNS = _cols(
    "area_code area_name level episodes children value gi_z gi_p gi_q gi_bin lisa_i lisa_p lisa_q "
    "lisa_type value_basis population rate eb_rate seb_rate eb_moran_i eb_moran_p eb_moran_q "
    "eb_moran_type rate_note gi_p_norm lisa_quadrant")

# ---- wayfinder analyse -------------------------------------------------------------------------
AREA_HOTSPOTS_WARD = Result(
    "area_hotspots_ward", "analyses", "area_hotspots_ward", "area_hotspots_ward.geojson",
    promised=True, contract=_HOTSPOT_CONTRACT, columns=_HOTSPOT_COLUMNS, layer="hotspots_ward",
    route="area_hotspots")
AREA_HOTSPOTS_LSOA = Result(
    "area_hotspots_lsoa", "analyses", "area_hotspots_lsoa", "area_hotspots_lsoa.geojson",
    promised=True, optional=True, contract=_HOTSPOT_CONTRACT, columns=_HOTSPOT_COLUMNS,
    layer="hotspots_lsoa", route="area_hotspots")
AREA_AUTOCORRELATION = Result(
    "area_autocorrelation", "analyses", "area_autocorrelation", "area_autocorrelation.json",
    columns=_cols("level population map basis statistic value expected z p_norm p_sim "
                  "permutations method"), route="area_autocorrelation")
FOUND_AT_CLUSTERS = Result(
    "found_at_clusters", "analyses", "found_at_clusters", "found_at_clusters.geojson",
    promised=True,
    contract=_cols("cluster_id episodes children first_seen last_seen nearest_premises_id "
                   "p_value q_value"),
    columns=_cols("cluster_id method episodes children events first_seen last_seen centroid_e "
                  "centroid_n nearest_premises_id nearest_premises_m points expected llr p_value "
                  "q_value status"),
    layer="found_at_clusters")
PREMISES_OF_CONCERN = Result(
    "premises_of_concern", "analyses", "premises_of_concern", "premises_of_concern.csv",
    promised=True,
    contract=_cols("rank premises_id name premises_type score children episodes mentions intel "
                   "p_value q_value explanation"),
    columns=_cols(
        "rank premises_id name premises_type score children episodes mentions intel p_value "
        "q_value explanation near_children named_children near_sightings named_sightings "
        "recent_children rhi_mentions link_mentions event_mentions intel_weight intel_grades "
        "expected_near expected_named p_near p_named tested significant evidence compared_with "
        "n_postcodes n_catchment rate radius_m"),
    layer="premises_of_concern", route="premises_of_concern")
AREA_TRENDS = Result(
    "area_trends", "analyses", "area_trends", "area_trends.csv", promised=True,
    contract=_cols("area_code month episodes mk_tau mk_p category"),
    columns=_cols("area_code month episodes mk_tau mk_p category"), route="area_trends")
EMERGING_HOTSPOTS = Result(
    "emerging_hotspots", "analyses", "emerging_hotspots", "emerging_hotspots.csv",
    columns=_cols("area_code category hot_months cold_months trend_z trend_p months basis"))
KNOX = Result(
    "knox", "analyses", "knox", "knox.json",
    columns=_cols("space_m time_days permutations permute seed n_events max_events max_pairs "
                  "exclude_precision distinct_persons method n_used subsampled statistic "
                  "expected ratio p_value close_in_space close_in_time"))
SPACE_TIME = Result(
    "space_time", "analyses", None, "space_time.json", promised=True,
    contract=_cols("knox near_repeat"), columns=_cols("knox near_repeat near_repeat_method scan"))
NEAR_REPEAT = Result("near_repeat", "analyses", "near_repeat")
SPACE_TIME_CLUSTERS = Result(
    "space_time_clusters", "analyses", "space_time_clusters", "space_time_clusters.geojson",
    promised=True,
    contract=_cols("cluster_id start end observed expected relative_risk llr p_value "
                   "recurrence_days"),
    columns=_cols("cluster_id start end observed expected relative_risk llr p_value "
                  "recurrence_days rank analysis centre_e centre_n radius_m locations children "
                  "start_unit units q_value"),
    layer="space_time_clusters")

# ---- wayfinder network -------------------------------------------------------------------------
IDENTITY = Result(
    "identity", "identity", None, "identity.csv", promised=True,   # stored in identity_links
    contract=_cols("record kind person_id match_weight"),
    columns=_cols("record kind person_id match_weight"))
BRIDGING_PERSONS = Result(
    "bridging_persons", "graph", "bridging_persons", "bridging_persons.csv", promised=True,
    contract=_cols("rank person_id children score"), columns=_cols("rank person_id children score"),
    route="network_bridging")
BRIDGING_EVIDENCE = Result(
    "bridging_persons_evidence", "graph", None, "bridging_persons_evidence.csv",
    columns=_cols("rank person_id children score direct_children place_children "
                  "intelligence_only first last evidence"))
GRAPHML = Result("graph_graphml", "graph", None, "graph.graphml", promised=True)
GEXF = Result("graph_gexf", "graph", None, "graph.gexf", promised=True)
CYTOSCAPE = Result("cytoscape", "graph", None, "cytoscape.json", promised=True,
                   columns=_cols("format_version generated_by elements style"))
I2_ENTITIES = Result(
    "i2_entities", "graph", None, "i2_entities.csv", promised=True,
    columns=("Entity Type", "Identity", "Label", "Description", "Role", "Records", "Easting",
             "Northing", "Restricted", "Unresolved"))
I2_LINKS = Result(
    "i2_links", "graph", None, "i2_links.csv", promised=True,
    columns=("Link ID", "Link Type", "From Entity Type", "From Identity", "To Entity Type",
             "To Identity", "Direction", "Strength", "Label", "Date", "Time", "Date Last",
             "Description", "Source Reference", "Source Type", "Grade 1", "Grade 2", "Grade 3",
             "Intelligence", "Count", "Restricted"))
NETWORK_MEASURES = Result("network_measures", "graph", "network_measures")
PLACES_LINKING_CHILDREN = Result("places_linking_children", "graph", "places_linking_children")
NETWORK_COMPONENTS = Result("network_components", "graph", "network_components",
                            route="network_components")
NETWORK_ADULT_LINKS = Result("network_adult_links", "graph", "network_adult_links")
CO_MISSING_GROUPS = Result(
    "co_missing_groups", "groups", "co_missing_groups", "co_missing_groups.json", promised=True,
    contract=_cols("group_id members co_episodes first last shared_places"),
    columns=_cols("group_id members co_episodes first last shared_places shared_adults episodes "
                  "chance_q"),
    layer="co_missing_lines", route="co_missing_groups")
CO_EPISODE_PAIRS = Result("co_episode_pairs", "groups", "co_episode_pairs")

# ---- wayfinder run -----------------------------------------------------------------------------
PIPELINE_RUN = Result("pipeline_run", "results", None, "pipeline_run.json", promised=True,
                      columns=_cols("fingerprint params steps files results"))

#: every output, in the order the steps write them
RESULTS: tuple[Result, ...] = (
    AREA_HOTSPOTS_WARD, AREA_HOTSPOTS_LSOA, AREA_AUTOCORRELATION, FOUND_AT_CLUSTERS,
    PREMISES_OF_CONCERN, AREA_TRENDS, EMERGING_HOTSPOTS, KNOX, SPACE_TIME, NEAR_REPEAT,
    SPACE_TIME_CLUSTERS, IDENTITY, BRIDGING_PERSONS, BRIDGING_EVIDENCE, GRAPHML, GEXF, CYTOSCAPE,
    I2_ENTITIES, I2_LINKS, NETWORK_MEASURES, PLACES_LINKING_CHILDREN, NETWORK_COMPONENTS,
    NETWORK_ADULT_LINKS, CO_MISSING_GROUPS, CO_EPISODE_PAIRS, PIPELINE_RUN)
BY_KEY: dict[str, Result] = {r.key: r for r in RESULTS}
#: the results ``wayfinder run`` checks are stored before it records the run as done
REQUIRED = (AREA_HOTSPOTS_WARD, FOUND_AT_CLUSTERS, PREMISES_OF_CONCERN, AREA_TRENDS,
            BRIDGING_PERSONS, NETWORK_MEASURES, CO_MISSING_GROUPS)
#: the area levels with a hot spot map
HOTSPOT_LEVELS = {"ward": AREA_HOTSPOTS_WARD, "lsoa": AREA_HOTSPOTS_LSOA}


def area_hotspots(level: str) -> Result:
    """The hot spot result of an area level (``ward`` or ``lsoa``). Other levels (the API's
    grid) have no entry: their stored name follows the same pattern."""
    return HOTSPOT_LEVELS.get(level) or Result(f"area_hotspots_{level}", "analyses",
                                               f"area_hotspots_{level}")


def step_files(step: str) -> tuple[str, ...]:
    """The files a step must leave in the output DIR (promised by the contract, not optional):
    a step whose files are missing runs again on resume."""
    return tuple(r.file for r in RESULTS if r.step == step and r.promised and not r.optional)


def stored_names(step: str | None = None) -> tuple[str, ...]:
    """The stored result names (of one step)."""
    return tuple(r.name for r in RESULTS if r.name and (step is None or r.step == step))
