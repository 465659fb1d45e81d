"""Dates as case-management exports write them, normalised to UTC for one timeline with mail.

Exports write ISO 8601, UK day-first forms ('04/03/2021 14:05', '4 Mar 2021'), spreadsheet
date cells and, rarely, RFC 2822. Rules:

- a date with an offset ('2021-03-04T14:05:00+01:00', 'Z') is converted to UTC;
- a date and time without an offset is local time in the mapping's time zone (default
  Europe/London, so British Summer Time is honoured), then converted to UTC;
- a date without a time stays on its calendar day, at 00:00 UTC: converting midnight local
  time would move a British summer date to the previous day in every date filter;
- anything else is unparseable; a date is never guessed. An ambiguous numeric date is read
  day-first unless the mapping says `day_first: false`.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

MISSING, OK, UNPARSEABLE = "missing", "ok", "unparseable"
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
EXCEL_EPOCH = datetime(1899, 12, 30)
ISO_DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
ORDINAL_SUFFIX = re.compile(r"(?<=\d)(st|nd|rd|th)\b", re.IGNORECASE)
UTC_SUFFIX = re.compile(r"\s*(?:UTC|GMT|Z)$", re.IGNORECASE)

# Day-first numeric forms; `_month_first` swaps them for `day_first: false`.
_NUMERIC_DATES = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%d.%m.%Y", "%d.%m.%y")
_NAMED_DATES = ("%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y", "%a %d %b %Y", "%A %d %B %Y",
                "%b %d %Y", "%B %d %Y", "%Y/%m/%d")
_TIMES = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%I:%M%p", "%H%M")


@dataclass(frozen=True)
class RecordDate:
    utc: datetime | None
    offset_minutes: int | None
    status: str                      # ok, missing or unparseable
    original: str | None = None      # the value as written, for date_original

    @property
    def missing(self) -> bool:
        return self.status == MISSING


def _month_first(pattern: str) -> str:
    return pattern.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


@lru_cache(maxsize=4)
def _patterns(day_first: bool) -> tuple[tuple[str, bool], ...]:
    """(strptime pattern, has a time) in the order they are tried."""
    numeric = _NUMERIC_DATES if day_first else tuple(_month_first(p) for p in _NUMERIC_DATES)
    patterns: list[tuple[str, bool]] = []
    for day in numeric + _NAMED_DATES:
        patterns.append((day, False))
        patterns.extend((f"{day} {clock}", True) for clock in _TIMES)
        patterns.extend((f"{day}, {clock}", True) for clock in _TIMES[:2])
    return tuple(patterns)


def parse_record_date(value: object, *, formats: tuple[str, ...] = (), day_first: bool = True,
                      zone: str = "Europe/London", serial: str | None = None) -> RecordDate:
    """One export value as a UTC date. `serial` reads numbers: 'excel' days or 'unix' seconds."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return RecordDate(None, None, MISSING)
    if isinstance(value, datetime):
        return _from_datetime(value, zone, str(value), has_time=value.time() != time())
    if isinstance(value, date):
        return _from_datetime(datetime.combine(value, time()), zone, str(value), has_time=False)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_number(value, serial, zone)
    text = " ".join(str(value).split())
    parsed = _parse_text(text, formats, day_first)
    if parsed is None:
        return RecordDate(None, None, UNPARSEABLE, text)
    moment, has_time = parsed
    return _from_datetime(moment, zone, text, has_time)


def _parse_text(text: str, formats: tuple[str, ...],
                day_first: bool) -> tuple[datetime, bool] | None:
    for pattern in formats:
        parsed = _strptime(text, pattern)
        if parsed:
            return parsed, any(code in pattern for code in ("%H", "%I", "%M"))
    iso = _parse_iso(text)
    if iso:
        return iso
    cleaned = ORDINAL_SUFFIX.sub("", text)
    suffix_utc = UTC_SUFFIX.search(cleaned)
    if suffix_utc:  # '... 14:05 UTC': a naive time, but known to be UTC
        cleaned = cleaned[:suffix_utc.start()]
        iso = _parse_iso(cleaned)
        if iso and iso[1] and iso[0].tzinfo is None:
            return iso[0].replace(tzinfo=timezone.utc), True
    for pattern, has_time in _patterns(day_first):
        parsed = _strptime(cleaned, pattern)
        if parsed:
            return (parsed.replace(tzinfo=timezone.utc) if suffix_utc and has_time
                    else parsed), has_time
    return _parse_rfc2822(text)


def _strptime(text: str, pattern: str) -> datetime | None:
    try:
        return datetime.strptime(text, pattern)
    except ValueError:
        return None


def _parse_iso(text: str) -> tuple[datetime, bool] | None:
    if not text[:4].isdigit():
        return None  # fromisoformat would read '04032021' style digits as a year
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed, not ISO_DATE_ONLY.match(text)


def _parse_rfc2822(text: str) -> tuple[datetime, bool] | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (parsed, True) if parsed else None


def _from_number(value: float, serial: str | None, zone: str) -> RecordDate:
    original = str(value)
    try:
        if serial == "excel" and 1 <= value < 2958466:
            moment = EXCEL_EPOCH + timedelta(days=float(value))
            return _from_datetime(moment, zone, original, has_time=moment.time() != time())
        if serial == "unix":
            seconds = value / 1000 if abs(value) >= 1e11 else value  # milliseconds
            moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
            return _from_datetime(moment, zone, original, has_time=True)
    except (OverflowError, ValueError, OSError):
        pass
    return RecordDate(None, None, UNPARSEABLE, original)


def _from_datetime(moment: datetime, zone: str, original: str, has_time: bool) -> RecordDate:
    if moment.tzinfo is None:
        if not has_time:
            moment = moment.replace(tzinfo=timezone.utc)
            return _checked(moment, None, original)
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    offset = moment.utcoffset()
    offset_minutes = int(offset.total_seconds() // 60) if offset is not None else None
    try:
        utc = moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return RecordDate(None, None, UNPARSEABLE, original)
    return _checked(utc, offset_minutes, original)


def _checked(utc: datetime, offset_minutes: int | None, original: str) -> RecordDate:
    if not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
        return RecordDate(None, offset_minutes, UNPARSEABLE, original)
    return RecordDate(utc, offset_minutes, OK, original)
