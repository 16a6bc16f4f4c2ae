"""The emulators' fast paths give the same answers as the general ones: splitting of keys and query options without
quotes or parentheses, and the per-second timestamp of written rows."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from emulators.dataverse.store import now_iso
from emulators.odata import ODataError, parse_segment, split_top_level


@pytest.mark.parametrize(("text", "parts"), [
    ("", []),
    ("  ", []),
    ("name", ["name"]),
    (" name , price ", ["name", "price"]),
    ("a,", ["a"]),
    (",a", ["", "a"]),
    ("a,,b", ["a", "", "b"]),
    ("modifiedon asc,productid asc", ["modifiedon asc", "productid asc"]),
    # quotes and parentheses protect the separator (the general path)
    ("name eq 'a,b',x", ["name eq 'a,b'", "x"]),
    ("f(a,b),c", ["f(a,b)", "c"]),
])
def test_split_top_level(text: str, parts: list[str]) -> None:
    assert split_top_level(text) == parts


def test_split_top_level_other_separator() -> None:
    assert split_top_level("$select=name;$top=1", ";") == ["$select=name", "$top=1"]
    assert split_top_level("$filter=a eq 'x;y';$top=1", ";") == ["$filter=a eq 'x;y'", "$top=1"]


def test_parse_segment_keys() -> None:
    guid = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    assert parse_segment(f"products({guid})") == ("products", guid.lower())
    assert parse_segment("products(productnumber='A,1')") == ("products", {"productnumber": "A,1"})
    assert parse_segment("x(a=1,b='2')") == ("x", {"a": 1, "b": "2"})
    assert parse_segment("products") == ("products", None)
    with pytest.raises(ODataError):
        parse_segment("x(a=1,b)")


def test_now_iso_is_the_current_utc_second() -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = now_iso()
    after = dt.datetime.now(dt.UTC).replace(microsecond=0)
    parsed = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert before <= parsed <= after
    # the next second gives the next stamp (the cached text is per second, never stale)
    time.sleep(1.05 - time.time() % 1)
    later = dt.datetime.strptime(now_iso(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert later > parsed
