"""The ``multipart/mixed`` body of an OData ``$batch`` request or response: encode it and read it back.

One codec for both ends of the Dataverse Web API ``$batch``: the portal's client encodes requests and reads
responses, the local emulator reads requests and encodes responses. Pure functions over ``bytes`` and ``str``; it
imports nothing of the project.

Primary sources:

* Microsoft Learn, "Execute batch operations using the Web API" (Dataverse): a batch is ``POST [Organization
  URI]/api/data/v9.2/$batch`` with ``Content-Type: multipart/mixed; boundary=batch_<id>``; each operation is a part
  ``Content-Type: application/http`` + ``Content-Transfer-Encoding: binary`` holding one HTTP request; a change set
  is a part of type ``multipart/mixed; boundary=changeset_<id>`` whose operations carry ``Content-ID`` headers (and
  can refer to each other's results as ``$<Content-ID>``); the response mirrors that layout with
  ``batchresponse_``/``changesetresponse_`` boundaries.
* OASIS, "OData Version 4.01. Part 1: Protocol", section "Batch Requests" (multipart batch format: batch request
  body, change sets, ``Content-ID``, responses).
* RFC 2046, section 5.1 "Multipart Media Type": a body is ``--boundary CRLF headers CRLF CRLF content`` per part,
  the CRLF before each delimiter belongs to the delimiter, and the body ends with ``--boundary--``.
* RFC 9112 (HTTP/1.1), section 2 "Message": each ``application/http`` part is a request (``METHOD target HTTP/1.1``)
  or response (``HTTP/1.1 status reason``) line, header lines, an empty line and the body.

Shapes:

* :class:`RequestPart` - one operation: ``method``, ``url`` (the request target as sent: absolute, absolute path,
  or a ``$n`` Content-ID reference), ``headers`` (name -> value, names as given when encoding, lower-case when read),
  ``body`` (bytes), ``content_id`` (``None``: no ``Content-ID`` header).
* :class:`ResponsePart` - one answer: ``status`` (int; 0 when the status line is unreadable), ``headers``, ``body``,
  ``content_id`` (from the part's headers, else from the embedded response's headers), ``reason`` (encode only:
  empty = the standard phrase).
* :class:`ChangeSet` - ``parts`` sent or answered as one atomic unit, with its own ``boundary``.
* :class:`Part` - a raw body part: ``headers`` (lower-case names, the last of a repeated name wins) and ``content``.

Reading is lenient where senders differ: LF line ends are accepted as well as CRLF, a part that starts with an
empty line has no headers, and a part without an empty line after its headers has an empty content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = [
    "ChangeSet",
    "MultipartError",
    "Part",
    "RequestPart",
    "ResponsePart",
    "boundary_of",
    "encode_requests",
    "encode_responses",
    "is_multipart",
    "parse_request",
    "parse_response",
    "read_requests",
    "read_responses",
    "split",
]

_BOUNDARY_RE = re.compile(r'boundary="?([^";\r\n]+)"?', re.IGNORECASE)


class MultipartError(ValueError):
    """A body that cannot be read as a ``$batch`` (the message names what is wrong)."""


@dataclass
class RequestPart:
    """One operation of a batch request (see the module docstring for the fields)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_id: str | None = None


@dataclass
class ResponsePart:
    """One answer of a batch response (see the module docstring for the fields)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_id: str | None = None
    reason: str = ""


@dataclass
class ChangeSet:
    """Operations (or their answers) of one change set, under their own ``boundary``."""

    boundary: str
    parts: list[Any] = field(default_factory=list)  # RequestPart (a request) or ResponsePart (a response) items


@dataclass
class Part:
    """A raw body part: lower-case header names -> values, and the content (without the delimiter's CRLF)."""

    headers: dict[str, str]
    content: bytes


# ---------------------------------------------------------------------------------------------------- headers
def boundary_of(content_type: str) -> str | None:
    """The ``boundary`` parameter of a ``Content-Type`` value (quoted or not), ``None`` when it has none."""
    match = _BOUNDARY_RE.search(content_type or "")
    return match.group(1).strip() if match else None


def is_multipart(content_type: str) -> bool:
    """Whether a ``Content-Type`` value is a ``multipart/*`` media type (a change set inside a batch)."""
    return (content_type or "").split(";", 1)[0].strip().lower().startswith("multipart/")


# ---------------------------------------------------------------------------------------------------- encoding
def encode_requests(boundary: str, items: Sequence[RequestPart | ChangeSet]) -> bytes:
    """The body of a batch request: one part per :class:`RequestPart`, one nested multipart per :class:`ChangeSet`.

    Send it with ``Content-Type: multipart/mixed; boundary=<boundary>``. Layout as in the request example of
    "Execute batch operations using the Web API" (an empty line follows a change set's closing delimiter)."""
    return _multipart(boundary, [_request_chunk(item) for item in items], epilogue=True)


def encode_responses(boundary: str, items: Sequence[ResponsePart | ChangeSet]) -> bytes:
    """The body of a batch response: one part per :class:`ResponsePart`, one nested multipart per
    :class:`ChangeSet`. Layout as in the response example of "Execute batch operations using the Web API"."""
    return _multipart(boundary, [_response_chunk(item) for item in items], epilogue=True)


def _multipart(boundary: str, chunks: list[bytes], *, epilogue: bool) -> bytes:
    """``--boundary CRLF chunk CRLF`` per chunk and the closing ``--boundary--`` (+ CRLF when ``epilogue``)."""
    delimiter = b"--" + boundary.encode()
    out = b"".join(delimiter + b"\r\n" + chunk + b"\r\n" for chunk in chunks)
    return out + delimiter + b"--" + (b"\r\n" if epilogue else b"")


def _changeset_chunk(changeset: ChangeSet, chunks: list[bytes], *, epilogue: bool) -> bytes:
    head = f"Content-Type: multipart/mixed; boundary={changeset.boundary}\r\n\r\n".encode()
    return head + _multipart(changeset.boundary, chunks, epilogue=epilogue)


def _http_chunk(start_line: str, headers: dict[str, str], body: bytes, content_id: str | None) -> bytes:
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        head.append(f"Content-ID: {content_id}")
    lines = [start_line, *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode() + body


def _request_chunk(item: RequestPart | ChangeSet) -> bytes:
    if isinstance(item, ChangeSet):
        return _changeset_chunk(item, [_request_chunk(p) for p in item.parts], epilogue=True)
    return _http_chunk(f"{item.method.upper()} {item.url} HTTP/1.1", item.headers, item.body, item.content_id)


def _response_chunk(item: ResponsePart | ChangeSet) -> bytes:
    if isinstance(item, ChangeSet):
        return _changeset_chunk(item, [_response_chunk(p) for p in item.parts], epilogue=False)
    reason = item.reason
    if not reason:
        try:
            reason = HTTPStatus(item.status).phrase
        except ValueError:
            reason = ""
    return _http_chunk(f"HTTP/1.1 {item.status} {reason}", item.headers, item.body, item.content_id)


# ---------------------------------------------------------------------------------------------------- reading
def split(body: bytes, boundary: str) -> list[Part]:
    """The body parts of a multipart ``body`` (one level; the preamble and epilogue are dropped)."""
    parts: list[Part] = []
    for raw in body.split(b"--" + boundary.encode())[1:]:
        if raw.startswith(b"--"):
            break
        # the rest of the delimiter line (transport padding, CRLF) and the CRLF of the next delimiter
        raw = raw.lstrip(b" \t")
        raw = raw[2:] if raw.startswith(b"\r\n") else raw[1:] if raw.startswith(b"\n") else raw
        raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
        headers, content = _split_head(raw)
        parts.append(Part(headers, content))
    return parts


def _split_head(block: bytes) -> tuple[dict[str, str], bytes]:
    """``header lines, empty line, rest`` -> (lower-case headers, rest); a block that starts with an empty line has
    no headers, a block without an empty line is all headers."""
    for newline in (b"\r\n", b"\n"):
        if block.startswith(newline):
            return {}, block[len(newline):]
    head, found, rest = block.partition(b"\r\n\r\n")
    if not found:
        head, found, rest = block.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _start_line(content: bytes) -> tuple[str, bytes]:
    """The first non-empty line of an embedded HTTP message and what follows it."""
    line, _, rest = content.lstrip(b"\r\n").partition(b"\n")
    return line.decode("utf-8", "replace").strip(), rest


def parse_request(content: bytes) -> RequestPart:
    """An embedded HTTP request (``METHOD target HTTP/1.1``, headers, body) -> :class:`RequestPart` (method in upper
    case, trailing line ends of the body removed). Raises :class:`MultipartError` when there is no request line."""
    line, rest = _start_line(content)
    if not line:
        raise MultipartError("Empty request in batch.")
    method, _, target = line.partition(" ")
    url = target.rsplit(" HTTP/", 1)[0] if " HTTP/" in target else target
    if not method or not url.strip():
        raise MultipartError(f"Malformed request line in batch: '{line}'.")
    headers, body = _split_head(rest)
    return RequestPart(method.upper(), url.strip(), headers, body.rstrip(b"\r\n"))


def parse_response(content: bytes) -> ResponsePart:
    """An embedded HTTP response (``HTTP/1.1 status reason``, headers, body) -> :class:`ResponsePart` (body without
    surrounding whitespace; ``status`` 0 when the status line has no number)."""
    line, rest = _start_line(content)
    pieces = line.split(" ", 2)
    status = int(pieces[1]) if len(pieces) > 1 and pieces[1].isdigit() else 0
    headers, body = _split_head(rest)
    return ResponsePart(status, headers, body.strip(), headers.get("content-id"),
                        pieces[2] if len(pieces) > 2 else "")


def read_requests(body: bytes, boundary: str) -> list[RequestPart | ChangeSet]:
    """A batch request body -> its operations in order, a change set as a :class:`ChangeSet` of
    :class:`RequestPart` (``content_id`` from the part's ``Content-ID``). Raises :class:`MultipartError` for a
    change set without a boundary, a change set inside a change set, or an unreadable request."""
    items: list[RequestPart | ChangeSet] = []
    for part in split(body, boundary):
        ctype = part.headers.get("content-type", "")
        if is_multipart(ctype):
            inner = boundary_of(ctype)
            if not inner:
                raise MultipartError("A change set part has no boundary.")
            requests: list[RequestPart] = []
            for item in read_requests(part.content, inner):
                if isinstance(item, ChangeSet):
                    raise MultipartError("Change sets cannot be nested.")
                requests.append(item)
            items.append(ChangeSet(inner, requests))
            continue
        request = parse_request(part.content)
        request.content_id = part.headers.get("content-id")
        items.append(request)
    return items


def read_responses(body: bytes, boundary: str) -> list[ResponsePart]:
    """A batch response body -> the answers in order, those of change sets included (flattened)."""
    answers: list[ResponsePart] = []
    for part in split(body, boundary):
        ctype = part.headers.get("content-type", "")
        inner = boundary_of(ctype) if is_multipart(ctype) else None
        if inner:
            answers.extend(read_responses(part.content, inner))
            continue
        answer = parse_response(part.content)
        answer.content_id = part.headers.get("content-id") or answer.content_id
        answers.append(answer)
    return answers
