"""Record dates: ISO and UK forms, spreadsheet cells, to UTC; never guessed."""

from datetime import date, datetime, timezone

import pytest

from pipeline.cms.dates import parse_record_date


def utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize("written, expected, offset", [
    ("2021-07-14T09:30:00+01:00", utc(2021, 7, 14, 8, 30), 60),
    ("2021-07-14T08:30:00Z", utc(2021, 7, 14, 8, 30), 0),
    ("2021-03-04 10:15", utc(2021, 3, 4, 10, 15), 0),            # GMT: London is UTC
    ("2021-07-14 10:15", utc(2021, 7, 14, 9, 15), 60),           # BST: London is UTC+1
    ("04/03/2021 14:05", utc(2021, 3, 4, 14, 5), 0),             # day first
    ("14/07/2021 09:30:15", utc(2021, 7, 14, 8, 30, 15), 60),
    ("04/03/2021 2:05 PM", utc(2021, 3, 4, 14, 5), 0),
    ("4 Mar 2021 10:00", utc(2021, 3, 4, 10, 0), 0),
    ("14-07-2021 09:30 UTC", utc(2021, 7, 14, 9, 30), 0),
    ("2021-07-14 09:30 GMT", utc(2021, 7, 14, 9, 30), 0),
    ("Wed, 14 Jul 2021 09:30:00 +0100", utc(2021, 7, 14, 8, 30), 60),
])
def test_dates_with_a_time_become_utc(written, expected, offset):
    parsed = parse_record_date(written)
    assert (parsed.utc, parsed.offset_minutes, parsed.status) == (expected, offset, "ok")
    assert parsed.original == written


@pytest.mark.parametrize("written", ["14/07/2021", "2021-07-14", "14 Jul 2021", "14th July 2021",
                                     "Wed 14 Jul 2021", "14.07.21", "20210714"])
def test_a_date_without_a_time_stays_on_its_day(written):
    parsed = parse_record_date(written)
    assert (parsed.utc, parsed.offset_minutes) == (utc(2021, 7, 14), None)


@pytest.mark.parametrize("written", ["31/02/2021", "next Tuesday", "TBC", "2021-13-45", "1234",
                                     "14/07/0021", "32/01/2021 10:00"])
def test_unparseable_dates_stay_unknown(written):
    parsed = parse_record_date(written)
    assert (parsed.utc, parsed.status, parsed.original) == (None, "unparseable", written)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_values_are_missing(value):
    assert parse_record_date(value).status == "missing"


def test_month_first_when_the_mapping_says_so():
    assert parse_record_date("03/04/2021 10:00", day_first=False).utc == utc(2021, 3, 4, 10)
    assert parse_record_date("03/04/2021 10:00").utc == utc(2021, 4, 3, 9)  # BST


def test_explicit_formats_and_time_zones_come_first():
    parsed = parse_record_date("2021|07|14 09h30", formats=("%Y|%m|%d %Hh%M",),
                               zone="America/New_York")
    assert (parsed.utc, parsed.offset_minutes) == (utc(2021, 7, 14, 13, 30), -240)
    assert parse_record_date("2021|07|14", formats=("%Y|%m|%d",)).utc == utc(2021, 7, 14)


def test_spreadsheet_cells_and_numbers():
    assert parse_record_date(datetime(2021, 7, 14, 9, 30)).utc == utc(2021, 7, 14, 8, 30)
    assert parse_record_date(datetime(2021, 7, 14)).utc == utc(2021, 7, 14)  # a date cell
    assert parse_record_date(date(2021, 7, 14)).utc == utc(2021, 7, 14)
    assert parse_record_date(44391.5, serial="excel").utc == utc(2021, 7, 14, 11)
    assert parse_record_date(1626255000, serial="unix").utc == utc(2021, 7, 14, 9, 30)
    assert parse_record_date(1626255000000, serial="unix").utc == utc(2021, 7, 14, 9, 30)
    assert parse_record_date(44391.5).status == "unparseable"  # a number in a CSV-like source
