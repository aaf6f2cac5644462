"""Minimisation at the edge: what each role may receive.

Views:
- ``full`` (analysts): everything the analyses hold, including names, record keys, exact points
  and children's home (placement) locations.
- ``case`` (MOG, COG and MASE members): children and persons appear as stable pseudonyms
  (``C-`` children, ``A-`` adults and others; keyed HMAC of the person id with the per-install
  secret, so the same child has the same pseudonym in every view and cannot be reversed without
  the secret); no names, dates of birth, record ids, addresses or location texts; points snapped
  to the centre of a ``grid_m`` (default 250 m) British National Grid cell; counts from 1 to 4
  shown as ``"<5"``; no placement locations.
- ``licensing`` (licensing officers): as ``case`` but with no person reference at all and dates
  reduced to the month.
- ``admin``: no case data.
"""
from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from api.roles import ANALYST

VIEW_OF_ROLE = {
    "analyst": "full",
    "mog_member": "case",
    "cog_member": "case",
    "mase_member": "case",
    "licensing_officer": "licensing",
    "admin": "none",
}
VIEWS = ("full", "case", "licensing")

#: keys never sent to a non-analyst, whatever the endpoint
PERSONAL_KEYS = frozenset({
    "given_name", "family_name", "name_given", "dob", "date_of_birth", "child_id", "child_key",
    "person_id_src", "person_key", "police_id", "carefirst_id", "upn", "address", "address_e",
    "address_n", "placement_postcode", "placement_e", "placement_n", "placement_ward", "school",
    "ethnicity", "text", "found_text", "last_seen_text", "location_text", "episode_key",
    "episode_id", "rhi_key", "rhi_id", "event_key", "name_full",
})


def view_for(role: str) -> str:
    return VIEW_OF_ROLE.get(role, "none")


@dataclass(frozen=True)
class Minimiser:
    secret: str
    grid_m: float = 250.0
    small: int = 5

    # -- identities --------------------------------------------------------------------------
    def pseudonym(self, person_id: str | None, kind: str = "child") -> str | None:
        if person_id is None or (isinstance(person_id, float) and math.isnan(person_id)):
            return None
        digest = hmac.new(self.secret.encode(), str(person_id).encode(), hashlib.sha256).hexdigest()
        return ("C-" if kind == "child" else "A-") + digest[:10].upper()

    def pseudonyms(self, ids, kind: str = "child") -> list[str | None]:
        ids = list(ids)
        memo = {i: self.pseudonym(i, kind) for i in set(ids) if isinstance(i, str)}
        return [memo[i] if isinstance(i, str) else self.pseudonym(i, kind) for i in ids]

    # -- counts -------------------------------------------------------------------------------
    def count(self, n):
        """Counts 1..small-1 become ``"<small"``; 0 and larger counts are kept."""
        if n is None or (isinstance(n, float) and math.isnan(n)):
            return None
        n = int(n)
        return f"<{self.small}" if 0 < n < self.small else n

    def counts(self, values) -> list:
        return [self.count(v) for v in values]

    # -- locations ----------------------------------------------------------------------------
    def snap(self, e, n):
        """Centre of the ``grid_m`` BNG cell holding (e, n); arrays or scalars (metres)."""
        g = self.grid_m
        e = np.asarray(e, dtype=float)
        n = np.asarray(n, dtype=float)
        return np.floor(e / g) * g + g / 2, np.floor(n / g) * g + g / 2

    # -- records ------------------------------------------------------------------------------
    def scrub(self, record: dict, view: str) -> dict:
        """Drop personal keys from a plain record for non-analyst views."""
        if view == "full":
            return record
        return {k: v for k, v in record.items() if k not in PERSONAL_KEYS}


def is_analyst(role: str) -> bool:
    return role == ANALYST


def month_of(series: pd.Series) -> pd.Series:
    s = pd.to_datetime(series, utc=True, errors="coerce")
    return s.dt.strftime("%Y-%m").where(s.notna(), None)


def day_of(series: pd.Series) -> pd.Series:
    s = pd.to_datetime(series, utc=True, errors="coerce")
    return s.dt.strftime("%Y-%m-%d").where(s.notna(), None)
