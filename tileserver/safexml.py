"""The one hardened reading of an XML request body for the OGC services (WFS-T Transactions, CSW requests and
their filters): bounded in size, refused before parsing when it declares a DTD, parsed without DTDs, entities
or network.

- read_body: at most `limit` bytes (a larger Content-Length, or more bytes sent, is refused; never more than
  limit + 1 bytes are read).
- parse: bytes holding `<!DOCTYPE` or `<!ENTITY` never reach libxml2 (billion laughs, external entities and
  DTDs are refused unread); what another encoding (UTF-16) hides from that test is refused after parsing by
  the document's doctype. PARSER loads no DTD, resolves no entity, opens no network, keeps libxml2's depth and
  text-size limits (huge_tree off) and drops comments and processing instructions.

The services keep their own answers: everything here raises Refused with a `reason`, which each caller turns
into its exception report (tileserver.wfst, tileserver.csw.service).
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from lxml import etree

Reason = Literal["dtd", "entity", "syntax", "length", "size"]

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                         huge_tree=False, remove_comments=True, remove_pis=True)
DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY")
MAX_DETAIL = 200  # characters of libxml2's message a caller may show


class Refused(ValueError):
    """A body not read: `reason` dtd (a DTD or entity declaration), entity (an entity reference), syntax (not
    well-formed; `detail` is libxml2's message), length (Content-Length is no number), size (over the limit)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason, self.detail = reason, detail


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The request body, at most `limit` bytes (Refused `length` / `size`)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused("length") from None
    if declared > limit:
        raise Refused("size")
    body = request.read(limit + 1)  # a body sent without (or beyond) its Content-Length stops here too
    if len(body) > limit:
        raise Refused("size")
    return body


def declares_dtd(raw: bytes) -> bool:
    """Whether the bytes hold a DTD or entity declaration (the refusal before libxml2 sees them)."""
    return any(marker in raw for marker in DECLARATIONS)


def parse(raw: bytes) -> etree._Element:
    """The root element of `raw`: well-formed XML without a DTD, entity declarations or entity references."""
    if declares_dtd(raw):
        raise Refused("dtd")
    try:
        root = etree.fromstring(raw, PARSER)
    except etree.XMLSyntaxError as exc:
        raise Refused("syntax", str(exc)[:MAX_DETAIL]) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # one the byte test could not see (UTF-16, …)
        raise Refused("dtd")
    if next(root.iter(etree.Entity), None) is not None:
        raise Refused("entity")
    return root
