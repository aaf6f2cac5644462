"""The data-quality report (``geo.meetings.data_quality``) as the CLI and the API give it."""
from __future__ import annotations

import json

import pandas as pd

LABELS = {"stale_open_episodes": "open records followed by a later episode (marker not cleared)",
          "long_open_episodes": "missing episodes open over 28 days with no later episode (check)",
          "unknown_children": "episodes whose child has no child record",
          "rhi_after_next_episode": "return interviews held after the next episode",
          "disagreements": "fields on which a person's records disagree"}


def report_json(rep: dict) -> dict:
    """The report with each finding's frame as a list of records (dates ISO 8601, no NaN)."""
    out = {}
    for k, v in rep.items():
        if isinstance(v, pd.DataFrame):
            f = v.copy()
            for c in f.columns:
                if pd.api.types.is_datetime64_any_dtype(f[c]):
                    f[c] = f[c].map(lambda x: None if pd.isna(x) else x.isoformat())
            out[k] = json.loads(f.to_json(orient="records", date_format="iso"))
        else:
            out[k] = v
    return out
