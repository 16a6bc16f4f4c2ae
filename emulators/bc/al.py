"""A small reader of the companion extension's AL source: the API pages the Business Central emulator serves on
the custom route, exactly as the shipped ``bc-extension/src/*.Page.al`` files declare them.

It reads what the emulator needs and no more (Microsoft Learn "API page type", "Developing a custom API",
"Creating and interacting with an OData V4 bound action"): the page properties (``PageType``, ``APIPublisher``,
``APIGroup``, ``APIVersion``, ``EntityName``, ``EntitySetName``, ``SourceTable``, ``Editable``, ``InsertAllowed``,
``ModifyAllowed``, ``DeleteAllowed``), each ``field(<name>; Rec."<BC field>")`` or ``field(<name>; <Variable>)`` of
the layout with its own ``Editable``, each ``part(<name>; "<page>")`` with its ``EntitySetName``, the ``var``
declarations (name -> AL type) and the ``[ServiceEnabled]`` procedures (name -> AL return type or ``None``).
Comments are skipped. A page that is not ``PageType = API`` is ignored; a malformed file raises
:class:`ALError` naming it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

#: The shipped extension (a top-level folder of the repository; read as files, never imported).
EXTENSION_DIR = Path(__file__).resolve().parents[2] / "bc-extension"

_COMMENT = re.compile(r"//[^\n]*")
_OBJECT = re.compile(r'^\s*page\s+(\d+)\s+"([^"]+)"\s*\{', re.M | re.I)
_PROPERTY = re.compile(r"^\s*(\w+)\s*=\s*(.+?);\s*$", re.M)
_FIELD = re.compile(r'\bfield\((\w+);\s*(Rec\.(?:"([^"]+)"|(\w+))|(\w+))\)\s*\{', re.I)
_PART = re.compile(r'\bpart\((\w+);\s*"([^"]+)"\)\s*\{', re.I)
_VAR = re.compile(r"^\s*(\w+)\s*:\s*([^;]+);", re.M)
_SERVICE = re.compile(r"\[ServiceEnabled\][\s\S]*?procedure\s+(\w+)\s*\(([^)]*)\)\s*(?::\s*(\w+))?", re.I)


class ALError(ValueError):
    """A shipped AL file the reader cannot understand (the message names the file)."""


@dataclass(frozen=True)
class ALField:
    """One ``field(name; source)`` of an API page: ``table_field`` is the BC field of ``Rec`` (``None`` for a
    variable, whose name is ``variable``); ``editable`` is False when the control says ``Editable = false``."""

    name: str
    table_field: str | None
    variable: str | None
    editable: bool


@dataclass(frozen=True)
class ALPage:
    """One API page: route (publisher, group, version), entity and entity set names, source table, fields in order,
    parts (navigation name -> entity set), variables (name -> AL type) and bound actions (name -> AL return type or
    ``None``), and the page's Editable / InsertAllowed / ModifyAllowed / DeleteAllowed."""

    object_id: int
    object_name: str
    publisher: str
    group: str
    version: str
    entity_name: str
    entity_set_name: str
    source_table: str
    fields: tuple[ALField, ...]
    parts: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    actions: dict[str, str | None] = field(default_factory=dict)
    editable: bool = True
    insert_allowed: bool = True
    modify_allowed: bool = True
    delete_allowed: bool = True

    @property
    def route(self) -> tuple[str, str, str]:
        """(APIPublisher, APIGroup, APIVersion): the page is served on ``api/<publisher>/<group>/<version>``."""
        return self.publisher, self.group, self.version

    def field(self, name: str) -> ALField:
        """The field named ``name``; raises KeyError when the page has none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _block(text: str, start: int) -> tuple[str, int]:
    """The text between the ``{`` at ``start`` and its matching ``}`` (strings are not scanned: AL API pages use no
    braces in literals), and the index after the ``}``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    raise ALError("unbalanced braces")


def _truthy(value: str | None) -> bool:
    return value is None or value.strip().lower() != "false"


def parse_page(text: str, source: str = "<text>") -> ALPage | None:
    """The API page declared in ``text`` (``None`` when it declares no ``PageType = API`` page). Raises ALError naming
    ``source`` when the page lacks a required API property or its braces do not balance."""
    text = _COMMENT.sub("", text)
    head = _OBJECT.search(text)
    if head is None:
        return None
    try:
        body, _ = _block(text, head.end() - 1)
    except ALError as e:
        raise ALError(f"{source}: {e}") from None
    layout_at = body.find("layout")
    props_text = body if layout_at < 0 else body[:layout_at]
    props = {m.group(1).lower(): m.group(2) for m in _PROPERTY.finditer(props_text)}
    if _unquote(props.get("pagetype", "")).lower() != "api":
        return None
    missing = [p for p in ("apipublisher", "apigroup", "apiversion", "entityname", "entitysetname", "sourcetable")
               if p not in props]
    if missing:
        raise ALError(f"{source}: API page {head.group(2)!r} lacks {', '.join(missing)}")
    fields: list[ALField] = []
    parts: dict[str, str] = {}
    for m in _FIELD.finditer(body):
        inner, _ = _block(body, m.end() - 1)
        control = {p.group(1).lower(): p.group(2) for p in _PROPERTY.finditer(re.sub(r"trigger[\s\S]*", "", inner))}
        table_field = m.group(3) or m.group(4)
        fields.append(ALField(m.group(1), table_field, m.group(5), _truthy(control.get("editable"))))
    for m in _PART.finditer(body):
        inner, _ = _block(body, m.end() - 1)
        control = {p.group(1).lower(): p.group(2) for p in _PROPERTY.finditer(inner)}
        parts[m.group(1)] = _unquote(control.get("entitysetname", m.group(1)))
    variables: dict[str, str] = {}
    for var_block in re.finditer(r"^\s{4}var\s*$([\s\S]*?)(?=^\s{4}(?:\[|procedure|local|trigger|\})|\Z)", body,
                                 re.M):
        for v in _VAR.finditer(var_block.group(1)):
            variables[v.group(1)] = v.group(2).strip()
    actions = {m.group(1): m.group(3) for m in _SERVICE.finditer(body)}
    return ALPage(
        object_id=int(head.group(1)), object_name=head.group(2), publisher=_unquote(props["apipublisher"]),
        group=_unquote(props["apigroup"]), version=_unquote(props["apiversion"]),
        entity_name=_unquote(props["entityname"]), entity_set_name=_unquote(props["entitysetname"]),
        source_table=_unquote(props["sourcetable"]), fields=tuple(fields), parts=parts, variables=variables,
        actions=actions, editable=_truthy(props.get("editable")),
        insert_allowed=_truthy(props.get("insertallowed")), modify_allowed=_truthy(props.get("modifyallowed")),
        delete_allowed=_truthy(props.get("deleteallowed")))


def read_pages(folder: Path = EXTENSION_DIR) -> list[ALPage]:
    """The API pages of the extension in ``folder`` (its ``src/**/*.al`` files, in file-name order). Raises ALError
    for a file the reader cannot understand and FileNotFoundError when ``folder`` has no ``app.json``."""
    if not (folder / "app.json").is_file():
        raise FileNotFoundError(folder / "app.json")
    pages = []
    for path in sorted((folder / "src").rglob("*.al")):
        page = parse_page(path.read_text(encoding="utf-8-sig"), path.name)
        if page is not None:
            pages.append(page)
    return pages


def app_manifest(folder: Path = EXTENSION_DIR) -> dict[str, object]:
    """The extension's ``app.json`` (id, name, publisher, version, ...)."""
    return json.loads((folder / "app.json").read_text(encoding="utf-8-sig"))
