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

The rules themselves (pseudonym scheme, small counts, grid, date coarsening, personal keys) are
``geo.disclosure``, shared with the meeting packs (``maps.packs.View``); this module maps roles to
views and binds the install's secret and settings.
"""
from __future__ import annotations

from dataclasses import dataclass

from geo import disclosure
from geo.disclosure import PERSONAL_KEYS, day_of, month_of  # noqa: F401 - re-exported

VIEW_OF_ROLE = {
    "analyst": "full",
    "mog_member": "case",
    "cog_member": "case",
    "mase_member": "case",
    "licensing_officer": "licensing",
    "admin": "none",
}
VIEWS = ("full", "case", "licensing")
#: resolution of dates in minimised views (licensing officers: the month only)
DATES_OF_VIEW = {"case": "day", "licensing": "month"}


def view_for(role: str) -> str:
    return VIEW_OF_ROLE.get(role, "none")


@dataclass(frozen=True)
class Minimiser:
    """The install's disclosure settings (secret, grid, small count) bound to the rules of
    ``geo.disclosure``; which view gets which rule is decided by the routes and layers."""

    secret: str
    grid_m: float = disclosure.GRID_M
    small: int = disclosure.SMALL

    # -- identities --------------------------------------------------------------------------
    def pseudonym(self, person_id: str | None, kind: str = "child") -> str | None:
        return disclosure.pseudonym(self.secret, person_id, kind)

    def pseudonyms(self, ids, kind: str = "child") -> list[str | None]:
        return disclosure.pseudonyms(self.secret, ids, kind)

    # -- counts -------------------------------------------------------------------------------
    def count(self, n):
        """Counts 1..small-1 become ``"<small"``; 0 and larger counts are kept."""
        return disclosure.small_count(n, self.small)

    def counts(self, values) -> list:
        return disclosure.small_counts(values, self.small)

    # -- locations ----------------------------------------------------------------------------
    def snap(self, e, n):
        """Centre of the ``grid_m`` BNG cell holding (e, n); arrays or scalars (metres)."""
        return disclosure.snap_to_grid(e, n, self.grid_m)

    # -- records ------------------------------------------------------------------------------
    def table(self, df, view: str):
        """A table of results as ``view`` may receive it (``geo.disclosure.minimise_frame``:
        counts banded with the derived fields that would give them back, exact positions
        dropped, dates coarsened); analysts get it as it is."""
        if view == "full" or df is None:
            return df
        return disclosure.minimise_frame(df, self.small, dates=DATES_OF_VIEW.get(view, "month"))

