"""Meeting packs as the CLI (``wayfinder pack``) and the service (``GET /packs/{kind}``) give
them: one view per role with the install's disclosure settings, and one wording of the pack's
disclosure in the audit trail. Building the pack is ``maps.packs``."""
from __future__ import annotations

from typing import TYPE_CHECKING

from api.settings import Settings

if TYPE_CHECKING:                 # maps.packs loads folium and the renderers: only when a pack is built
    from maps import packs


def pack_view(role: str, secret: str | None, settings: Settings) -> "packs.View":
    """What ``role`` may see in a pack: pseudonyms under the install's key, counts below the
    small-number threshold banded, points on the grid (``maps.packs.View``)."""
    from maps import packs
    return packs.View(role=role, secret=secret, small=settings.small_count,
                      grid_m=float(settings.grid_m))


def disclosure_what(kind: str, period, pid: str | None, area: str | None,
                    view: "packs.View") -> str:
    """The audit entry's account of a pack: kind, period, the child by pseudonym or the area,
    and whether a MASE member had the child named."""
    return (f"pack {kind} {period.start.date()}..{period.end.date()}"
            + (f" child {view.pseudonym(pid)}" if pid else "")
            + (f" area {area}" if area and not pid else "")
            + (" (named to the member, purpose given)" if view.subject else ""))
