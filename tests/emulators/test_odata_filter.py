"""``$filter`` as the emulators evaluate it: odata-query's parser plus the emulator's visitor (emulators.odata)."""

from __future__ import annotations

from typing import Any

import pytest

from emulators.odata import ODataError, compile_filter

KINDS = {"name": "str", "num": "num", "flag": "bool", "when": "datetime", "day": "datetime", "gid": "guid",
         "allowLineDisc": "bool", "nullable": "str", "trueValue": "num"}
ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "Fourth Coffee", "num": 5, "flag": True, "when": "2024-01-01T10:00:00Z", "day": "2024-01-01",
     "gid": "6f9619ff-8b86-d011-b42d-00c04fc964ff", "allowLineDisc": True, "nullable": None, "trueValue": 1,
     "parent": {"name": "Contoso", "num": 3}, "lines": [{"qty": 1}, {"qty": 5}]},
    {"id": 2, "name": "O'Brien", "num": 1000, "flag": False, "when": "2023-12-31T23:59:59Z", "day": "2024-01-02",
     "gid": None, "allowLineDisc": False, "nullable": "x", "trueValue": 2, "parent": None, "lines": []},
    {"id": 3, "name": None, "num": None, "flag": None, "when": None, "day": None, "gid": None,
     "allowLineDisc": False, "nullable": None, "trueValue": 3, "parent": {"name": "Litware", "num": 7},
     "lines": [{"qty": 2}]},
]


def resolve(path: str) -> tuple[Any, str]:
    if path.startswith("parent/"):
        attr = path.split("/", 1)[1]
        if attr not in ("name", "num"):
            raise ODataError(f"Could not find a property named '{attr}'.")
        return (lambda r: None if r["parent"] is None else r["parent"].get(attr)), "str" if attr == "name" else "num"
    if path not in KINDS:
        raise ODataError(f"Could not find a property named '{path}'.")
    return (lambda r: r.get(path)), KINDS[path]


def collections(path: str) -> tuple[Any, Any]:
    if path != "lines":
        raise ODataError(f"Could not find a collection named '{path}'.")
    return (lambda r: r["lines"]), (lambda name: ((lambda line: line.get(name)), "num"))


def ids(text: str, aliases: dict[str, str] | None = None) -> list[int]:
    pred = compile_filter(text, resolve, aliases, case_insensitive=True, collections=collections)
    return [r["id"] for r in ROWS if pred(r)]


@pytest.mark.parametrize(("text", "expected"), [
    ("name eq 'FOURTH COFFEE'", [1]),
    ("contains(name,'coffee') or startswith(name,'o''b')", [1, 2]),
    ("endswith(name, 'brien')", [2]),
    ("Contains(name,'coffee')", [1]),
    ("name eq null", [3]),
    ("name ne null and num gt 10", [2]),
    ("not (name eq null) and flag", [1]),
    ("not name eq null", [1, 2]),
    ("not(num eq 5)", [2, 3]),
    ("num ge 5 and num le 1000", [1, 2]),
    ("num eq -3 or num eq 5", [1]),
    ("flag eq false", [2]),
    ("when gt 2024-01-01T00:00:00Z", [1]),
    ("when lt 2024-01-01T10:00Z", [2]),
    ("day eq 2024-01-02", [2]),
    ("gid eq 6F9619FF-8B86-D011-B42D-00C04FC964FF", [1]),
    ("name in ('fourth coffee', 'x')", [1]),
    ("name in ('o''brien')", [2]),
    ("num in (5)", [1]),
    ("parent/name eq 'litware'", [3]),
    ("tolower(name) eq 'fourth coffee' or length(name) eq 7", [1, 2]),
    ("allowLineDisc eq true", [1]),
    ("nullable eq 'x'", [2]),
    ("trueValue gt 1", [2, 3]),
    ("name eq @n or num gt @x", [1, 2]),
    ("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['Fourth Coffee','nobody'])", [1]),
    ("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['Fourth Coffee'])", [1]),
    ("Microsoft.Dynamics.CRM.NotNull(PropertyName='name')", [1, 2]),
    ("Microsoft.Dynamics.CRM.Between(PropertyName='num',PropertyValues=[1,10])", [1]),
    ("Microsoft.Dynamics.CRM.GreaterThan(PropertyName='num',PropertyValue=@x)", [1, 2]),
    ("lines/any(l: l/qty gt 4)", [1]),
    ("lines/any()", [1, 3]),
    ("lines/all(l: l/qty lt 3)", [2, 3]),
])
def test_filter(text: str, expected: list[int]) -> None:
    assert ids(text, {"@n": "'fourth coffee'", "@x": "1"}) == expected


def test_long_or_chain() -> None:
    """Filters of hundreds of ids (the engine's coupling lookups) neither recurse deeply nor slow down."""
    text = " or ".join(f"num eq {n}" for n in range(2000)) + " or name eq 'x'"
    assert ids(text) == [1, 2]


@pytest.mark.parametrize(("text", "message"), [
    ("nosuch eq 1", "Could not find a property named 'nosuch'"),
    ("name eq", "Syntax error"),
    ("name eq 'unterminated", "Syntax error at position"),
    ("foo(name)", "An unknown function with name 'foo' was found."),
    ("name eq @missing", "The parameter alias '@missing' is not defined."),
    ("num add 1 eq 2", "Arithmetic operators are not supported"),
    ("lines/any(l: qty gt 1)", "lambda expression"),
    ("Microsoft.Dynamics.CRM.In(PropertyName='name')", "requires PropertyValues"),
    ("Microsoft.Dynamics.CRM.LastXDays(PropertyName='when',PropertyValue=3)", "not supported by the emulator"),
])
def test_filter_errors(text: str, message: str) -> None:
    with pytest.raises(ODataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ids(text)


def test_lambda_without_collections_is_refused() -> None:
    with pytest.raises(ODataError, match="not supported here"):
        compile_filter("lines/any(l: l/qty gt 1)", resolve)
