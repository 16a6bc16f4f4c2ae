"""OData v4 URL conventions shared by the Dataverse and Business Central emulators.

* :func:`parse_segment` - ``name(key)`` / ``name(k1='a',k2=1)`` path segments.
* :func:`compile_filter` - ``$filter`` to a Python predicate: comparison operators
  ``eq ne gt ge lt le``, ``and``/``or``/``not``, parentheses, ``in (...)``, ``contains``,
  ``startswith``, ``endswith``, ``tolower``/``toupper``, ``null``, GUID / date-time / number / string
  literals, parameter aliases (``@p`` resolved from the query string, protocols.md B10 example),
  and Dataverse's ``Microsoft.Dynamics.CRM.In`` / ``NotIn`` query functions (protocols.md B7).
* :func:`parse_orderby`, :func:`parse_select`, :func:`parse_expand`.

Errors raise :class:`ODataError` whose message the caller wraps in its service's error envelope.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

Getter = Callable[[dict[str, Any]], Any]
Resolver = Callable[[str], tuple[Getter, str]]

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ODataError(Exception):
    """A malformed or unsupported query option; ``message`` is shown to the client."""


_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<dtm>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<lb>\[)
  | (?P<rb>\])
  | (?P<comma>,)
  | (?P<eqs>=)
  | (?P<name>[@A-Za-z_$][A-Za-z0-9_./$]*)
""", re.VERBOSE)


def parse_datetime(text: str) -> dt.datetime:
    """Parse an ISO-8601 date or date-time to an aware UTC datetime (dates -> midnight UTC)."""
    t = text.strip()
    if len(t) == 10:
        return dt.datetime.fromisoformat(t).replace(tzinfo=dt.UTC)
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    v = dt.datetime.fromisoformat(t)
    if v.tzinfo is None:
        v = v.replace(tzinfo=dt.UTC)
    return v.astimezone(dt.UTC)


def _tokenize(text: str) -> list[tuple[str, str]]:
    pos = 0
    out: list[tuple[str, str]] = []
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise ODataError(f"Syntax error at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
    return out


class _Lit:
    __slots__ = ("value", "kind")

    def __init__(self, value: Any, kind: str) -> None:
        self.value = value
        self.kind = kind


class _Mem:
    __slots__ = ("getter", "kind", "name")

    def __init__(self, getter: Getter, kind: str, name: str) -> None:
        self.getter = getter
        self.kind = kind
        self.name = name


class _Fn:
    __slots__ = ("fn", "kind")

    def __init__(self, fn: Getter, kind: str) -> None:
        self.fn = fn
        self.kind = kind


_CMP = {"eq", "ne", "gt", "ge", "lt", "le"}


def _literal_value(kind: str, text: str) -> _Lit:
    if kind == "str":
        return _Lit(text[1:-1].replace("''", "'"), "str")
    if kind == "dtm":
        return _Lit(parse_datetime(text), "datetime")
    if kind == "date":
        return _Lit(parse_datetime(text), "datetime")
    if kind == "guid":
        return _Lit(text.lower(), "guid")
    if kind == "num":
        t = text.rstrip("mMdDfFlL")
        return _Lit(float(t) if any(c in t for c in ".eE") else int(t), "num")
    raise ODataError(f"Unexpected literal '{text}'.")


class _Parser:
    def __init__(self, text: str, resolve: Resolver, aliases: dict[str, str], ci: bool) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.resolve = resolve
        self.aliases = aliases
        self.ci = ci
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None) -> tuple[str, str]:
        t = self.peek()
        if t is None or (kind is not None and t[0] != kind):
            raise ODataError(f"Syntax error in '{self.text}': expected {kind or 'a token'}.")
        self.i += 1
        return t

    def word(self, w: str) -> bool:
        t = self.peek()
        if t is not None and t[0] == "name" and t[1] == w:
            self.i += 1
            return True
        return False

    def parse(self) -> Callable[[dict[str, Any]], bool]:
        node = self.or_expr()
        if self.peek() is not None:
            raise ODataError(f"Syntax error in '{self.text}' near '{self.peek()[1]}'.")  # type: ignore[index]
        return self.as_bool(node)

    def as_bool(self, node: Any) -> Callable[[dict[str, Any]], bool]:
        if isinstance(node, _Fn):
            f = node.fn
            return lambda r: bool(f(r))
        if isinstance(node, _Mem):
            g = node.getter
            return lambda r: g(r) is True
        if isinstance(node, _Lit):
            v = bool(node.value)
            return lambda r: v
        return node

    def or_expr(self) -> Any:
        left = self.and_expr()
        while self.word("or"):
            a, b = self.as_bool(left), self.as_bool(self.and_expr())
            left = _Fn(lambda r, a=a, b=b: a(r) or b(r), "bool")
        return left

    def and_expr(self) -> Any:
        left = self.not_expr()
        while self.word("and"):
            a, b = self.as_bool(left), self.as_bool(self.not_expr())
            left = _Fn(lambda r, a=a, b=b: a(r) and b(r), "bool")
        return left

    def not_expr(self) -> Any:
        if self.word("not"):
            inner = self.as_bool(self.not_expr())
            return _Fn(lambda r: not inner(r), "bool")
        return self.cmp_expr()

    def cmp_expr(self) -> Any:
        left = self.primary()
        t = self.peek()
        if t is not None and t[0] == "name" and t[1] in _CMP:
            self.i += 1
            right = self.primary()
            return _Fn(self.compare(t[1], left, right), "bool")
        if t is not None and t[0] == "name" and t[1] == "in":
            self.i += 1
            values = self.value_list("lp", "rp")
            return _Fn(self.membership(left, values), "bool")
        return left

    def value_list(self, open_kind: str, close_kind: str) -> list[_Lit]:
        self.take(open_kind)
        values: list[_Lit] = []
        while True:
            t = self.peek()
            if t is not None and t[0] == close_kind:
                self.i += 1
                break
            node = self.primary()
            if not isinstance(node, _Lit):
                raise ODataError("Only literal values are allowed in a value list.")
            values.append(node)
            t = self.peek()
            if t is not None and t[0] == "comma":
                self.i += 1
        return values

    def primary(self) -> Any:
        t = self.take()
        kind, text = t
        if kind == "lp":
            node = self.or_expr()
            self.take("rp")
            return node
        if kind in ("str", "dtm", "date", "guid", "num"):
            return _literal_value(kind, text)
        if kind == "name":
            if text == "null":
                return _Lit(None, "null")
            if text in ("true", "false"):
                return _Lit(text == "true", "bool")
            if text.startswith("@"):
                raw = self.aliases.get(text)
                if raw is None:
                    raise ODataError(f"The parameter alias '{text}' is not defined.")
                sub = _Parser(raw, self.resolve, {}, self.ci)
                node = sub.primary()
                return node
            nxt = self.peek()
            if nxt is not None and nxt[0] == "lp":
                return self.function(text)
            getter, mkind = self.resolve(text)
            return _Mem(getter, mkind, text)
        raise ODataError(f"Syntax error in '{self.text}' near '{text}'.")

    def function(self, name: str) -> Any:
        lname = name.lower()
        if lname.startswith("microsoft.dynamics.crm."):
            return self.crm_function(name.split(".")[-1])
        self.take("lp")
        args: list[Any] = []
        while True:
            t = self.peek()
            if t is not None and t[0] == "rp":
                self.i += 1
                break
            args.append(self.or_expr())
            t = self.peek()
            if t is not None and t[0] == "comma":
                self.i += 1
        if lname in ("contains", "startswith", "endswith") and len(args) == 2:
            a, b = self.as_value(args[0]), self.as_value(args[1])
            ci = self.ci

            def norm(v: Any) -> str | None:
                if v is None:
                    return None
                s = str(v)
                return s.lower() if ci else s

            if lname == "contains":
                return _Fn(lambda r: (x := norm(a(r))) is not None and (y := norm(b(r))) is not None and y in x, "bool")
            if lname == "startswith":
                return _Fn(lambda r: (x := norm(a(r))) is not None and (y := norm(b(r))) is not None
                           and x.startswith(y), "bool")
            return _Fn(lambda r: (x := norm(a(r))) is not None and (y := norm(b(r))) is not None
                       and x.endswith(y), "bool")
        if lname in ("tolower", "toupper", "trim") and len(args) == 1:
            a = self.as_value(args[0])
            op = {"tolower": str.lower, "toupper": str.upper, "trim": str.strip}[lname]
            return _Fn(lambda r: None if (x := a(r)) is None else op(str(x)), "str")
        if lname == "length" and len(args) == 1:
            a = self.as_value(args[0])
            return _Fn(lambda r: None if (x := a(r)) is None else len(str(x)), "num")
        raise ODataError(f"An unknown function with name '{name}' was found.")

    def crm_function(self, fname: str) -> Any:
        self.take("lp")
        params: dict[str, Any] = {}
        while True:
            t = self.peek()
            if t is not None and t[0] == "rp":
                self.i += 1
                break
            key = self.take("name")[1]
            self.take("eqs")
            nxt = self.peek()
            if nxt is not None and nxt[0] == "lb":
                params[key] = self.value_list("lb", "rb")
            else:
                params[key] = self.primary()
            t = self.peek()
            if t is not None and t[0] == "comma":
                self.i += 1
        prop = params.get("PropertyName")
        if not isinstance(prop, _Lit) or not isinstance(prop.value, str):
            raise ODataError(f"Query function '{fname}' requires PropertyName.")
        getter, mkind = self.resolve(prop.value)
        member = _Mem(getter, mkind, prop.value)
        lf = fname.lower()
        if lf in ("in", "notin"):
            values = params.get("PropertyValues")
            if not isinstance(values, list):
                raise ODataError(f"Query function '{fname}' requires PropertyValues.")
            fn = self.membership(member, values)
            return _Fn(fn if lf == "in" else (lambda r: not fn(r)), "bool")
        if lf in ("null", "notnull"):
            return _Fn((lambda r: getter(r) is None) if lf == "null" else (lambda r: getter(r) is not None), "bool")
        if lf in ("equal", "notequal", "greaterthan", "lessthan", "greaterequal", "lessequal"):
            op = {"equal": "eq", "notequal": "ne", "greaterthan": "gt", "lessthan": "lt",
                  "greaterequal": "ge", "lessequal": "le"}[lf]
            return _Fn(self.compare(op, member, params.get("PropertyValue")), "bool")
        if lf == "between":
            values = params.get("PropertyValues")
            if not isinstance(values, list) or len(values) != 2:
                raise ODataError("Between requires two PropertyValues.")
            lo, hi = self.compare("ge", member, values[0]), self.compare("le", member, values[1])
            return _Fn(lambda r: lo(r) and hi(r), "bool")
        raise ODataError(f"Query function Microsoft.Dynamics.CRM.{fname} is not supported by the emulator.")

    def as_value(self, node: Any) -> Getter:
        if isinstance(node, _Lit):
            v = node.value
            return lambda r: v
        if isinstance(node, _Mem):
            return node.getter
        if isinstance(node, _Fn):
            return node.fn
        return node

    def _normalizer(self, kind: str) -> Callable[[Any], Any]:
        ci = self.ci
        if kind == "datetime":
            def nd(v: Any) -> Any:
                if v is None or isinstance(v, dt.datetime):
                    return v
                try:
                    return parse_datetime(str(v))
                except ValueError:
                    return v
            return nd
        if kind == "guid":
            return lambda v: v.lower() if isinstance(v, str) else v
        if kind == "str" and ci:
            return lambda v: v.lower() if isinstance(v, str) else v
        return lambda v: v

    def compare(self, op: str, left: Any, right: Any) -> Callable[[dict[str, Any]], bool]:
        kinds = {getattr(left, "kind", "any"), getattr(right, "kind", "any")}
        kind = "any"
        for k in ("datetime", "guid", "str", "num", "bool"):
            if k in kinds:
                kind = k
                break
        if "datetime" in kinds:
            kind = "datetime"
        norm = self._normalizer(kind)
        lv, rv = self.as_value(left), self.as_value(right)
        if isinstance(right, _Lit):
            const = norm(right.value)

            def rv(r: dict[str, Any], c: Any = const) -> Any:  # noqa: F811 - constant folding
                return c
            rnorm: Callable[[Any], Any] = lambda v: v  # noqa: E731
        else:
            rnorm = norm
        if op == "eq":
            return lambda r: norm(lv(r)) == rnorm(rv(r))
        if op == "ne":
            return lambda r: norm(lv(r)) != rnorm(rv(r))

        def ordered(r: dict[str, Any]) -> bool:
            a, b = norm(lv(r)), rnorm(rv(r))
            if a is None or b is None:
                return False
            try:
                if op == "gt":
                    return a > b
                if op == "ge":
                    return a >= b
                if op == "lt":
                    return a < b
                return a <= b
            except TypeError:
                return False
        return ordered

    def membership(self, left: Any, values: list[_Lit]) -> Callable[[dict[str, Any]], bool]:
        kind = getattr(left, "kind", "any")
        norm = self._normalizer(kind)
        allowed = {norm(v.value) for v in values}
        g = self.as_value(left)
        return lambda r: norm(g(r)) in allowed


def compile_filter(text: str, resolve: Resolver, aliases: dict[str, str] | None = None,
                   *, case_insensitive: bool = False) -> Callable[[dict[str, Any]], bool]:
    """Compile ``$filter`` text into ``predicate(row) -> bool``.

    ``resolve(name)`` returns ``(getter, kind)`` for a property path or raises :class:`ODataError`.
    ``case_insensitive`` makes string comparisons ignore case (Dataverse's SQL collation).
    """
    return _Parser(text, resolve, aliases or {}, case_insensitive).parse()


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    if "'" not in text and "(" not in text and ")" not in text:
        # nothing to protect (a GUID key, a plain $select or $orderby): str.split gives the same parts, much faster
        simple = [part.strip() for part in text.split(sep)]
        if simple and not simple[-1]:
            simple.pop()
        return simple
    parts: list[str] = []
    depth = 0
    quote = False
    cur: list[str] = []
    for ch in text:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not quote:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def parse_select(text: str | None) -> list[str] | None:
    """``$select=a,b`` -> ``["a", "b"]``; ``None`` when absent (all columns)."""
    if text is None or text.strip() == "":
        return None
    return [s.strip() for s in text.split(",") if s.strip()]


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    """``$orderby=a desc,b`` -> ``[("a", True), ("b", False)]`` (True = descending)."""
    out: list[tuple[str, bool]] = []
    if not text:
        return out
    for part in split_top_level(text):
        bits = part.split()
        if not bits or len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise ODataError(f"Syntax error in $orderby '{text}'.")
        out.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
    return out


def parse_expand(text: str | None) -> list[tuple[str, dict[str, str]]]:
    """``$expand=a($select=x;$top=1),b`` -> ``[("a", {"$select": "x", "$top": "1"}), ("b", {})]``."""
    out: list[tuple[str, dict[str, str]]] = []
    if not text:
        return out
    for part in split_top_level(text):
        if "(" in part:
            name, _, rest = part.partition("(")
            if not rest.endswith(")"):
                raise ODataError(f"Syntax error in $expand '{text}'.")
            opts: dict[str, str] = {}
            for o in split_top_level(rest[:-1], ";"):
                k, _, v = o.partition("=")
                opts[k.strip()] = v.strip()
            out.append((name.strip(), opts))
        else:
            out.append((part.strip(), {}))
    return out


_SEG_RE = re.compile(r"^([^()]+)\((.*)\)$", re.S)


def parse_literal(text: str) -> Any:
    """Parse a key literal: quoted string, GUID, number, true/false, null."""
    t = text.strip()
    if t.startswith("'") and t.endswith("'") and len(t) >= 2:
        return t[1:-1].replace("''", "'")
    if GUID_RE.match(t):
        return t.lower()
    if t in ("true", "false"):
        return t == "true"
    if t == "null":
        return None
    try:
        return float(t) if any(c in t for c in ".eE") else int(t)
    except ValueError:
        raise ODataError(f"Bad key literal '{text}'.") from None


def parse_segment(seg: str) -> tuple[str, Any]:
    """``accounts(<guid>)`` -> ("accounts", "<guid>"); ``x(a='1',b=2)`` -> ("x", {"a": "1", "b": 2});
    ``accounts`` -> ("accounts", None).  Raises :class:`ODataError` on malformed keys."""
    m = _SEG_RE.match(seg)
    if not m:
        return seg, None
    name, inner = m.group(1), m.group(2)
    if inner.strip() == "":
        return name, ()
    parts = split_top_level(inner)
    if len(parts) == 1 and "=" not in parts[0].split("'")[0]:
        return name, parse_literal(parts[0])
    keys: dict[str, Any] = {}
    for p in parts:
        k, eq, v = p.partition("=")
        if not eq:
            raise ODataError(f"Bad key segment '{seg}'.")
        keys[k.strip()] = parse_literal(v)
    return name, keys
