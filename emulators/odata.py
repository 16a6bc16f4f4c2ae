"""OData v4 URL conventions shared by the Dataverse and Business Central emulators.

* :func:`compile_filter` - ``$filter`` text to a predicate over a row (a ``dict``). The text is parsed by the
  ``odata-query`` package (``odata_query.grammar.ODataLexer``/``ODataParser``, which implement the ``$filter``
  rules of "OData Version 4.01. Part 2: URL Conventions" and produce an ``odata_query.ast`` tree); a small visitor
  (:class:`_Compiler`) turns that tree into Python closures. Evaluated: comparisons ``eq ne gt ge lt le``, ``in``,
  ``and``/``or``/``not``, parentheses, ``contains``/``startswith``/``endswith``, ``tolower``/``toupper``/``trim``/
  ``length``, ``null``, string / number / Boolean / GUID / date / date-time literals, property paths through
  single-valued navigation properties (``parentcustomerid_account/name``), the lambda operators ``any``/``all`` on
  collection-valued navigation properties where the caller resolves collections (Dataverse: Microsoft Learn "Filter
  rows using OData", section "Lambda operators"), parameter aliases (``@p`` whose value is a
  query option ``@p=...``, Part 2 "Parameter Aliases"), and Dataverse's query functions
  ``Microsoft.Dynamics.CRM.In``/``NotIn``/``Null``/``NotNull``/``Equal``/``NotEqual``/``GreaterThan``/
  ``GreaterEqual``/``LessThan``/``LessEqual``/``Between`` ("Query data using the Web API", "Dataverse query
  functions").
* :func:`or_on_distinct_fields` - the properties of an ``or`` over two different properties (Business Central
  refuses such a filter; the Dataverse emulator does not ask).
* :func:`parse_orderby`, :func:`parse_select`, :func:`parse_expand`, :func:`parse_segment` (``name(key)`` path
  segments, Part 2 "Canonical URL" / "Key-as-Segment" keys with one or several named values).

What the emulator adds on top of odata-query 0.10, and why (all on the token stream, before its parser runs;
:class:`_Lexer` and :func:`_tokens`):

* parameter aliases: odata-query's identifier token does not accept the leading ``@``;
* Dataverse query functions pass lists in square brackets (``PropertyValues=['a','b']``), which odata-query's lexer
  has no token for: the brackets are read as parentheses;
* a one-value list (``name in ('a')``, ``PropertyValues=['a']``) is valid OData but odata-query asks for a trailing
  comma (Python's one-element tuple): the comma is added;
* odata-query's lexer reads a name that begins with a keyword as the keyword and the rest (``allowLineDisc`` ->
  ``all`` + ``owLineDisc``, ``nullable``, ``trueValue``), and needs a space after ``not``: the keywords only match as
  whole words, ``not(`` is accepted;
* function names are matched without regard to case, as the emulator always did (``Contains(name,'x')``).

One reading differs from odata-query's tree on purpose: ``not a eq 1`` means ``not (a eq 1)`` (as the emulator has
always read it) rather than ``(not a) eq 1``, which compares a Boolean with a number.

Errors raise :class:`ODataError` whose message the caller wraps in its service's error envelope.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from odata_query import ast
from odata_query import exceptions as odata_exceptions
from odata_query.grammar import ODATA_FUNCTIONS, ODataLexer, ODataParser

Getter = Callable[[dict[str, Any]], Any]
Predicate = Callable[[dict[str, Any]], bool]
Resolver = Callable[[str], tuple[Getter, str]]
#: ``collection(path) -> (rows_of(row) -> iterable of related rows, resolver of the related table)``.
CollectionResolver = Callable[[str], tuple[Callable[[dict[str, Any]], Iterable[dict[str, Any]]], Resolver]]

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ODataError(Exception):
    """A malformed or unsupported query option; ``message`` is shown to the client."""


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


# ---------------------------------------------------------------------------------------------------- parsing
class _Lexer(ODataLexer):
    """odata-query's lexer with whole-word keywords, ``@alias`` names and ``[``/``]`` (see the module docstring)."""

    tokens = ODataLexer.tokens
    literals = ODataLexer.literals | {"[", "]"}

    @_(r"(?:true|false)(?![\w.])")  # noqa: F821
    def BOOLEAN(self, t: Any) -> Any:  # noqa: N802
        return ODataLexer.BOOLEAN(self, t)

    @_(r"null(?![\w.])")  # noqa: F821
    def NULL(self, t: Any) -> Any:  # noqa: N802
        return ODataLexer.NULL(self, t)

    @_(r"not(?:\s+|(?=\())")  # noqa: F821
    def NOT(self, t: Any) -> Any:  # noqa: N802
        return ODataLexer.NOT(self, t)

    @_(r"any(?![\w.])")  # noqa: F821
    def ANY(self, t: Any) -> Any:  # noqa: N802
        return ODataLexer.ANY(self, t)

    @_(r"all(?![\w.])")  # noqa: F821
    def ALL(self, t: Any) -> Any:  # noqa: N802
        return ODataLexer.ALL(self, t)

    @_(r"@?[_a-z](?:\.?\w){0,127}")  # noqa: F821
    def ODATA_IDENTIFIER(self, t: Any) -> Any:  # noqa: N802
        return ODataLexer.ODATA_IDENTIFIER(self, t)


#: Standard function names by their lower-case spelling (``Contains`` -> ``contains``).
_FUNCTIONS = {name.lower(): name for name in ODATA_FUNCTIONS}


def _tokens(text: str) -> list[Any]:
    """The token stream odata-query's parser reads, with the additions of the module docstring."""
    toks = list(_Lexer().tokenize(text))
    lists: list[int] = []  # indexes of "(" that open a value list
    for i, tok in enumerate(toks):
        if tok.type in ("[", "]"):
            tok.type = tok.value = "(" if tok.type == "[" else ")"
            if tok.type == "(":
                lists.append(i)
        elif tok.type == "(" and i and toks[i - 1].type == "IN":
            lists.append(i)
        elif (tok.type == "ODATA_IDENTIFIER" and not tok.value.namespace and i + 1 < len(toks)
              and toks[i + 1].type == "(" and tok.value.name.lower() in _FUNCTIONS):
            tok.value = ast.Identifier(_FUNCTIONS[tok.value.name.lower()])
    for start in reversed(lists):
        depth, commas, close = 0, 0, None
        for j in range(start, len(toks)):
            kind = toks[j].type
            if kind == "(":
                depth += 1
            elif kind == ")":
                depth -= 1
                if depth == 0:
                    close = j
                    break
            elif kind == "," and depth == 1:
                commas += 1
        inner = [t for t in toks[start + 1:close] if t.type != "WS"] if close is not None else []
        if close is not None and not commas and inner:
            comma = copy.copy(toks[close])
            comma.type = comma.value = ","
            toks.insert(close, comma)
    return toks


@functools.lru_cache(maxsize=512)
def parse_filter(text: str) -> Any:
    """``$filter`` text -> odata-query AST (cached: trees are immutable). Raises :class:`ODataError`."""
    try:
        return ODataParser().parse(iter(_tokens(text)))
    except odata_exceptions.TokenizingException as e:
        raise ODataError(f"Syntax error at position {e.token.index} in '{text}'.") from None
    except odata_exceptions.ParsingException as e:
        if e.eof or e.token is None:
            raise ODataError(f"Syntax error in '{text}': the expression ends too early.") from None
        raise ODataError(f"Syntax error in '{text}' near '{text[e.token.index:e.token.index + 20]}'.") from None
    except odata_exceptions.UnknownFunctionException as e:
        raise ODataError(f"An unknown function with name '{e.function_name}' was found.") from None
    except odata_exceptions.ODataException as e:
        raise ODataError(f"Syntax error in '{text}': {e}") from None
    except (AttributeError, IndexError, TypeError):  # odata-query 0.10 fails so on 3+ named function parameters
        raise ODataError(f"Syntax error in '{text}'.") from None


# ---------------------------------------------------------------------------------------------------- evaluation
class _Expr:
    """A compiled operand: ``fn(row)`` and its kind (str, num, bool, datetime, guid, null, any); ``const`` holds a
    literal's value (``is_const``), ``member`` marks a property (true only when it is ``True``, as a Boolean)."""

    __slots__ = ("fn", "kind", "const", "is_const", "member")

    def __init__(self, fn: Getter, kind: str, *, const: Any = None, is_const: bool = False,
                 member: bool = False) -> None:
        self.fn = fn
        self.kind = kind
        self.const = const
        self.is_const = is_const
        self.member = member


def _constant(value: Any, kind: str) -> _Expr:
    return _Expr(lambda r: value, kind, const=value, is_const=True)


_COMPARATORS: dict[type, str] = {ast.Eq: "eq", ast.NotEq: "ne", ast.Gt: "gt", ast.GtE: "ge", ast.Lt: "lt",
                                 ast.LtE: "le"}
_CRM_COMPARATORS = {"equal": "eq", "notequal": "ne", "greaterthan": "gt", "lessthan": "lt", "greaterequal": "ge",
                    "lessequal": "le"}


class _Compiler:
    """Visitor over odata-query's AST producing closures over a row."""

    def __init__(self, resolve: Resolver, aliases: dict[str, str], ci: bool, text: str,
                 collections: CollectionResolver | None) -> None:
        self.resolve = resolve
        self.aliases = aliases
        self.ci = ci
        self.text = text
        self.collections = collections
        self.lambda_var: str | None = None

    # -- entry points
    def predicate(self, node: Any) -> Predicate:
        return self.as_bool(self.expr(node))

    def as_bool(self, e: _Expr) -> Predicate:
        fn = e.fn
        if e.is_const:
            value = bool(e.const)
            return lambda r: value
        if e.member:
            return lambda r: fn(r) is True
        return lambda r: bool(fn(r))

    # -- nodes
    def expr(self, node: Any) -> _Expr:  # noqa: C901 - one branch per node type
        if isinstance(node, ast.BoolOp):
            return self.bool_op(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                inner = self.predicate(node.operand)
                return _Expr(lambda r: not inner(r), "bool")
            operand = self.expr(node.operand)
            if operand.is_const and isinstance(operand.const, (int, float)) and not isinstance(operand.const, bool):
                return _constant(-operand.const, "num")
            raise ODataError("Arithmetic operators are not supported by the emulator.")
        if isinstance(node, ast.Compare):
            if isinstance(node.left, ast.UnaryOp) and isinstance(node.left.op, ast.Not):
                # "not a eq 1" reads as "not (a eq 1)" (see the module docstring)
                return self.expr(ast.UnaryOp(ast.Not(), ast.Compare(node.comparator, node.left.operand, node.right)))
            if isinstance(node.comparator, ast.In):
                return _Expr(self.membership(self.expr(node.left), node.right), "bool")
            op = _COMPARATORS[type(node.comparator)]
            return _Expr(self.compare(op, self.expr(node.left), self.expr(node.right)), "bool")
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.CollectionLambda):
            return self.collection_lambda(node)
        if isinstance(node, (ast.Identifier, ast.Attribute)):
            return self.member(node)
        if isinstance(node, ast._Literal):
            return self.literal(node)
        if isinstance(node, ast.BinOp):
            raise ODataError("Arithmetic operators are not supported by the emulator.")
        raise ODataError(f"Syntax error in '{self.text}'.")

    def bool_op(self, node: ast.BoolOp) -> _Expr:
        # a chain "a or b or c" is one any() (no recursion depth per term: filters of hundreds of ids)
        kind = type(node.op)
        terms: list[Any] = []
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.BoolOp) and type(n.op) is kind:
                stack.extend((n.right, n.left))
            else:
                terms.append(n)
        if kind is ast.Or:
            preds = self._or_terms(terms)
            return _Expr(lambda r: any(p(r) for p in preds), "bool")
        preds = [self.predicate(t) for t in terms]
        return _Expr(lambda r: all(p(r) for p in preds), "bool")

    def _or_terms(self, terms: list[Any]) -> list[Predicate]:
        """Predicates of an ``or`` chain; ``p eq 'a' or p eq 'b' or ...`` on one property becomes one set lookup
        (same result as the separate comparisons, in one step per row instead of one per value)."""
        same: dict[str, tuple[_Expr, list[Any]]] = {}
        rest: list[Predicate] = []
        for term in terms:
            if (isinstance(term, ast.Compare) and isinstance(term.comparator, ast.Eq)
                    and isinstance(term.left, (ast.Identifier, ast.Attribute))):
                right = self.expr(term.right)
                if right.is_const and right.const is not None:
                    path = _path(term.left)
                    left = same[path][0] if path in same else self.expr(term.left)
                    same.setdefault(path, (left, []))[1].append(right)
                    continue
            rest.append(self.predicate(term))
        for left, constants in same.values():
            kinds = {left.kind} | {c.kind for c in constants}
            kind = next((k for k in ("datetime", "guid", "str", "num", "bool") if k in kinds), "any")
            norm, getter = self.normalizer(kind), left.fn
            allowed = {norm(c.const) for c in constants}
            rest.append(lambda r, norm=norm, getter=getter, allowed=allowed: norm(getter(r)) in allowed)
        return rest

    def literal(self, node: Any) -> _Expr:
        if isinstance(node, ast.Null):
            return _constant(None, "null")
        if isinstance(node, ast.Boolean):
            return _constant(node.py_val, "bool")
        if isinstance(node, (ast.Integer, ast.Float)):
            return _constant(node.py_val, "num")
        if isinstance(node, ast.String):
            return _constant(node.val, "str")
        if isinstance(node, (ast.Date, ast.DateTime)):
            try:
                return _constant(parse_datetime(node.val), "datetime")
            except ValueError:
                raise ODataError(f"Bad date-time literal '{node.val}'.") from None
        if isinstance(node, ast.GUID):
            return _constant(node.val.lower(), "guid")
        if isinstance(node, ast.List):
            raise ODataError("A value list is only allowed after 'in'.")
        raise ODataError(f"Unsupported literal in '{self.text}'.")

    def member(self, node: Any) -> _Expr:
        path = _path(node)
        if path.startswith("@"):
            raw = self.aliases.get(path)
            if raw is None:
                raise ODataError(f"The parameter alias '{path}' is not defined.")
            return self.expr(parse_filter(raw))
        if self.lambda_var is not None:
            head, _, rest = path.partition("/")
            if head != self.lambda_var or not rest:
                raise ODataError(f"Inside a lambda expression, properties are written '{self.lambda_var}/<name>'.")
            path = rest
        getter, kind = self.resolve(path)
        return _Expr(getter, kind, member=True)

    def collection_lambda(self, node: ast.CollectionLambda) -> _Expr:
        path = _path(node.owner)
        if self.collections is None or self.lambda_var is not None:
            raise ODataError(f"The lambda operator on '{path}' is not supported here.")
        rows_of, resolver = self.collections(path)
        if node.lambda_ is None:
            return _Expr(lambda r: any(True for _ in rows_of(r)), "bool")
        inner = _Compiler(resolver, self.aliases, self.ci, self.text, None)
        inner.lambda_var = node.lambda_.identifier.name
        pred = inner.predicate(node.lambda_.expression)
        if isinstance(node.operator, ast.All):
            return _Expr(lambda r: all(pred(x) for x in rows_of(r)), "bool")
        return _Expr(lambda r: any(pred(x) for x in rows_of(r)), "bool")

    # -- functions
    def call(self, node: ast.Call) -> _Expr:
        name = node.func.full_name()
        if name.lower().startswith("microsoft.dynamics.crm."):
            return self.crm_function(node.func.name, node.args)
        lname = name.lower()
        args = [self.expr(a) for a in node.args]
        if lname in ("contains", "startswith", "endswith") and len(args) == 2:
            a, b = args[0].fn, args[1].fn
            ci = self.ci

            def norm(v: Any) -> str | None:
                if v is None:
                    return None
                s = str(v)
                return s.lower() if ci else s

            if lname == "contains":
                return _Expr(lambda r: (x := norm(a(r))) is not None and (y := norm(b(r))) is not None and y in x,
                             "bool")
            if lname == "startswith":
                return _Expr(lambda r: (x := norm(a(r))) is not None and (y := norm(b(r))) is not None
                             and x.startswith(y), "bool")
            return _Expr(lambda r: (x := norm(a(r))) is not None and (y := norm(b(r))) is not None
                         and x.endswith(y), "bool")
        if lname in ("tolower", "toupper", "trim") and len(args) == 1:
            a = args[0].fn
            op = {"tolower": str.lower, "toupper": str.upper, "trim": str.strip}[lname]
            return _Expr(lambda r: None if (x := a(r)) is None else op(str(x)), "str")
        if lname == "length" and len(args) == 1:
            a = args[0].fn
            return _Expr(lambda r: None if (x := a(r)) is None else len(str(x)), "num")
        raise ODataError(f"An unknown function with name '{name}' was found.")

    def crm_function(self, fname: str, args: list[Any]) -> _Expr:
        params: dict[str, Any] = {}
        for arg in args:
            if not isinstance(arg, ast.NamedParam):
                raise ODataError(f"Query function '{fname}' takes named parameters (PropertyName=...).")
            params[arg.name.name] = arg.param
        prop = params.get("PropertyName")
        prop_value = self.expr(prop) if prop is not None and not isinstance(prop, ast.List) else None
        if prop_value is None or not prop_value.is_const or not isinstance(prop_value.const, str):
            raise ODataError(f"Query function '{fname}' requires PropertyName.")
        getter, kind = self.resolve(prop_value.const)
        member = _Expr(getter, kind, member=True)
        lf = fname.lower()
        if lf in ("in", "notin"):
            values = params.get("PropertyValues")
            if not isinstance(values, ast.List):
                raise ODataError(f"Query function '{fname}' requires PropertyValues.")
            fn = self.membership(member, values)
            return _Expr(fn if lf == "in" else (lambda r: not fn(r)), "bool")
        if lf in ("null", "notnull"):
            return _Expr((lambda r: getter(r) is None) if lf == "null" else (lambda r: getter(r) is not None), "bool")
        if lf in _CRM_COMPARATORS:
            value = params.get("PropertyValue")
            right = self.expr(value) if value is not None else _constant(None, "null")
            return _Expr(self.compare(_CRM_COMPARATORS[lf], member, right), "bool")
        if lf == "between":
            values = params.get("PropertyValues")
            if not isinstance(values, ast.List) or len(values.val) != 2:
                raise ODataError("Between requires two PropertyValues.")
            lo = self.compare("ge", member, self.expr(values.val[0]))
            hi = self.compare("le", member, self.expr(values.val[1]))
            return _Expr(lambda r: lo(r) and hi(r), "bool")
        raise ODataError(f"Query function Microsoft.Dynamics.CRM.{fname} is not supported by the emulator.")

    # -- comparisons
    def normalizer(self, kind: str) -> Callable[[Any], Any]:
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
        if kind == "str" and self.ci:
            return lambda v: v.lower() if isinstance(v, str) else v
        return lambda v: v

    def compare(self, op: str, left: _Expr, right: _Expr) -> Predicate:
        kinds = {left.kind, right.kind}
        kind = next((k for k in ("datetime", "guid", "str", "num", "bool") if k in kinds), "any")
        norm = self.normalizer(kind)
        lv = left.fn
        if right.is_const:
            const = norm(right.const)
            if op == "eq":
                return lambda r: norm(lv(r)) == const
            if op == "ne":
                return lambda r: norm(lv(r)) != const
            return _ordered(op, lambda r: norm(lv(r)), lambda r: const)
        rv = right.fn
        if op == "eq":
            return lambda r: norm(lv(r)) == norm(rv(r))
        if op == "ne":
            return lambda r: norm(lv(r)) != norm(rv(r))
        return _ordered(op, lambda r: norm(lv(r)), lambda r: norm(rv(r)))

    def membership(self, left: _Expr, values: Any) -> Predicate:
        if not isinstance(values, ast.List):
            raise ODataError("'in' needs a list of values: name in ('a','b').")
        items = [self.expr(v) for v in values.val]
        if not all(v.is_const for v in items):
            raise ODataError("Only literal values are allowed in a value list.")
        norm = self.normalizer(left.kind)
        allowed = {norm(v.const) for v in items}
        g = left.fn
        return lambda r: norm(g(r)) in allowed


def _ordered(op: str, a_of: Getter, b_of: Getter) -> Predicate:
    def ordered(r: dict[str, Any]) -> bool:
        a, b = a_of(r), b_of(r)
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


def _path(node: Any) -> str:
    """``Identifier``/``Attribute`` chain -> ``a/b/c`` (a namespace-qualified name keeps its dots)."""
    if isinstance(node, ast.Identifier):
        return node.full_name()
    if isinstance(node, ast.Attribute):
        return _path(node.owner) + "/" + node.attr
    raise ODataError("Expected a property path.")


def compile_filter(text: str, resolve: Resolver, aliases: dict[str, str] | None = None,
                   *, case_insensitive: bool = False, collections: CollectionResolver | None = None) -> Predicate:
    """Compile ``$filter`` text into ``predicate(row) -> bool``.

    ``resolve(path)`` returns ``(getter, kind)`` for a property path (``name`` or ``nav/name``) or raises
    :class:`ODataError`; kinds are ``str``, ``num``, ``bool``, ``datetime``, ``guid`` or ``any``.
    ``aliases`` maps ``@name`` to the alias's text. ``case_insensitive`` makes string comparisons ignore case
    (Dataverse's SQL collation). ``collections(path)`` resolves a collection-valued navigation property for
    ``any``/``all`` (without it lambdas are refused).
    """
    return _Compiler(resolve, aliases or {}, case_insensitive, text, collections).predicate(parse_filter(text))


@functools.lru_cache(maxsize=512)
def or_on_distinct_fields(text: str) -> tuple[str, ...]:
    """The properties of an ``or`` in ``$filter`` text whose sides name more than one property, sorted; ``()``
    when every ``or`` stays on one property (``city eq 'A' or city eq 'B'``, ``contains(name,'a') or name eq 'b'``).
    Parameter aliases (``@p``) are not properties. Raises :class:`ODataError` on a syntax error.

    The Dataverse emulator does not use this: only Business Central refuses ``or`` across two fields (Microsoft Learn
    "Known limitations with Business Central OData", section "Filters"; "Using filter expressions in OData URIs":
    "you can't use OR operators to apply filters on two different fields"), because BC turns a ``$filter`` into one
    AL filter per field, and an AL field filter can only ``|`` values of the same field.
    """
    # post-order without recursion (an id list is a chain of hundreds of "or"): each node's set of properties once
    names: dict[int, frozenset[str]] = {}
    stack: list[tuple[Any, bool]] = [(parse_filter(text), False)]
    while stack:
        node, done = stack.pop()
        children = _children(node)
        if not done:
            stack.append((node, True))
            stack.extend((child, False) for child in children)
            continue
        if isinstance(node, (ast.Identifier, ast.Attribute)):
            path = _path(node)
            own = frozenset() if path.startswith("@") else frozenset({path})
        else:
            own = frozenset().union(*(names[id(child)] for child in children))
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(own) > 1:
            return tuple(sorted(own))
        names[id(node)] = own
    return ()


def _children(node: Any) -> list[Any]:
    """The operands of a ``$filter`` tree node (a lambda's owner only: its body is about the related rows)."""
    if isinstance(node, (ast.BoolOp, ast.Compare, ast.BinOp)):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return [a.param if isinstance(a, ast.NamedParam) else a for a in node.args]
    if isinstance(node, ast.List):
        return list(node.val)
    if isinstance(node, ast.CollectionLambda):
        return [node.owner]
    return []


# ---------------------------------------------------------------------------------------------------- other options
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


def parse_key(inner: str, seg: str = "") -> Any:
    """The text between a segment's parentheses -> a single key value, ``{name: value}`` for named key values, or
    ``()`` when empty. Raises :class:`ODataError` on malformed keys (``seg`` names the segment in the message)."""
    if inner.strip() == "":
        return ()
    parts = split_top_level(inner)
    if len(parts) == 1 and "=" not in parts[0].split("'")[0]:
        return parse_literal(parts[0])
    keys: dict[str, Any] = {}
    for p in parts:
        k, eq, v = p.partition("=")
        if not eq:
            raise ODataError(f"Bad key segment '{seg or inner}'.")
        keys[k.strip()] = parse_literal(v)
    return keys


def parse_segment(seg: str) -> tuple[str, Any]:
    """``accounts(<guid>)`` -> ("accounts", "<guid>"); ``x(a='1',b=2)`` -> ("x", {"a": "1", "b": 2});
    ``accounts`` -> ("accounts", None).  Raises :class:`ODataError` on malformed keys."""
    m = _SEG_RE.match(seg)
    if not m:
        return seg, None
    return m.group(1), parse_key(m.group(2), seg)
