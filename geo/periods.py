"""Reporting periods of the meetings' figures (shared/DATA_CONTRACT.md, "Scorecard measures").

A period P runs from the start of its first day to the end of its last day, Europe/London; T, the
time the figures are "as of", defaults to the end of P. Everything is returned as UTC timestamps,
the form the frames hold (docs/FRAMES.md).

>>> p = Period.parse("2017-03-01", "2017-03-31")
>>> p.start.isoformat(), p.end.isoformat(), p.as_of == p.end
('2017-03-01T00:00:00+00:00', '2017-03-31T23:00:00+00:00', True)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

LOCAL_TZ = "Europe/London"


class PeriodError(ValueError):
    """A period or as-of time that cannot be read or is empty."""


def _local_day_start(value: str | date, what: str) -> pd.Timestamp:
    from geo.storage.ingest import parse_dates
    d = parse_dates(pd.Series([str(value)])).iloc[0]
    if pd.isna(d):
        raise PeriodError(f"{what}: {value!r} is not a date (YYYY-MM-DD or dd/mm/yyyy)")
    return pd.Timestamp(d).tz_localize(LOCAL_TZ).tz_convert("UTC")


def parse_instant(value: str, what: str = "as-of") -> pd.Timestamp:
    """A date-time as the contract writes them (ISO 8601 or UK day-first; no offset = London
    local time), as a UTC timestamp."""
    from geo.storage.ingest import parse_datetimes
    t = parse_datetimes(pd.Series([str(value)])).iloc[0]
    if pd.isna(t):
        raise PeriodError(f"{what}: {value!r} is not a date-time (ISO 8601 or dd/mm/yyyy hh:mm)")
    return pd.Timestamp(t).tz_localize("UTC")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, and the as-of time T."""

    start: pd.Timestamp
    end: pd.Timestamp
    as_of: pd.Timestamp

    @classmethod
    def parse(cls, from_: str | date, to: str | date, as_of: str | None = None) -> "Period":
        start = _local_day_start(from_, "from")
        last = _local_day_start(to, "to")
        # the end of the last day: the start of the next local day (23 or 25 hours at DST changes)
        end = (last.tz_convert(LOCAL_TZ).tz_localize(None) + pd.Timedelta(days=1)) \
            .tz_localize(LOCAL_TZ).tz_convert("UTC")
        if end <= start:
            raise PeriodError(f"the period {from_} to {to} is empty: --to is before --from")
        t = parse_instant(as_of) if as_of else end
        return cls(start, end, t)

    def contains(self, times: pd.Series) -> pd.Series:
        """Which times fall in [start, end)."""
        return (times >= self.start) & (times < self.end)

    def to_json(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(),
                "as_of": self.as_of.isoformat()}
