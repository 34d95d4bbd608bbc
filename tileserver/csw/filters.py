"""GetRecords constraints: OGC Filter Encoding 1.1 (XML) and CQL text, parsed into pygeofilter's AST and evaluated
over the records of the layers a user may read.

Filter XML is read here (a small, whitelisted subset of FES 1.1: the one CSW 2.0.2 clients send); CQL text goes
through pygeofilter's ECQL parser. Either way the tree is checked before it is evaluated: only known operators,
only the queryables of `QUERYABLES`, at most MAX_NODES nodes — anything else is a FilterError (400 naming the
constraint). Records are evaluated in Python: the registry has hundreds of layers, not millions (docs/csw.md).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from django.utils import timezone
from lxml import etree
from pygeofilter import ast

from .records import GML, OGC

MAX_NODES = 100
MAX_CQL_CHARS = 4000
# Queryable (prefix dropped, lower case) → Record.properties() key. csw: / dc: / dct: / ows: core queryables and
# the apiso: names of the ISO application profile that ask the same question.
QUERYABLES = {
    "anytext": "anytext", "title": "title", "alternatetitle": "title", "abstract": "abstract",
    "description": "abstract", "subject": "subject", "keywords": "subject", "identifier": "identifier",
    "type": "type", "format": "format", "modified": "modified", "revisiondate": "modified",
    "creator": "creator", "publisher": "publisher", "organisationname": "organisationname",
    "boundingbox": "boundingbox", "crs": "crs", "topiccategory": "topiccategory",
}
SORTABLE = ("title", "identifier", "modified")
_COMPARISONS = {"PropertyIsEqualTo": ast.Equal, "PropertyIsNotEqualTo": ast.NotEqual,
                "PropertyIsLessThan": ast.LessThan, "PropertyIsGreaterThan": ast.GreaterThan,
                "PropertyIsLessThanOrEqualTo": ast.LessEqual, "PropertyIsGreaterThanOrEqualTo": ast.GreaterEqual}
# srsName values whose axis order is lat/lon (EPSG's own definition of 4326/4490); CRS84 and the short
# "EPSG:4326" form (and no srsName) are lon/lat, as CSW clients send them.
_LATLON = re.compile(r"^(urn:(x-)?ogc:def:crs:epsg:([0-9.]*:)?(4326|4490)|"
                     r"https?://www\.opengis\.net/def/crs/epsg/0/(4326|4490))$", re.I)
_LONLAT = re.compile(r"^(epsg:(4326|4490)|urn:ogc:def:crs:ogc:1\.3:crs84|crs84|"
                     r"https?://www\.opengis\.net/def/crs/ogc/1\.3/crs84)$", re.I)


class FilterError(ValueError):
    """A constraint we cannot evaluate; answered 400 InvalidParameterValue, locator `Constraint`."""


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


# --- parsing -------------------------------------------------------------------------------------------------


def parse_cql(text: str) -> ast.Node:
    if len(text) > MAX_CQL_CHARS:
        raise FilterError(f"CQL text longer than {MAX_CQL_CHARS} characters")
    from pygeofilter.parsers.ecql import parse

    try:
        node = parse(text)
    except Exception as exc:  # lark raises many kinds; every one means the text is not CQL we understand
        raise FilterError(f"CQL text not understood: {str(exc).splitlines()[0][:200]}") from None
    return check(_sql_like(node))


def _sql_like(node: Any) -> Any:
    """LIKE in CQL text takes `_` for one character, as in SQL, ECQL (GeoServer) and pycsw — pygeofilter's ECQL
    parser says `.`, which would make every dot in a layer name a wildcard."""
    if isinstance(node, ast.Like):
        return ast.Like(node.lhs, node.pattern, node.nocase, node.wildcard, "_", node.escapechar, node.not_)
    if isinstance(node, (ast.And, ast.Or)):
        return type(node)(_sql_like(node.lhs), _sql_like(node.rhs))
    if isinstance(node, ast.Not):
        return ast.Not(_sql_like(node.sub_node))
    return node


def _property(element: etree._Element) -> ast.Attribute:
    names = [c for c in element if _local(c.tag) == "PropertyName"]
    if len(names) != 1 or not (names[0].text or "").strip():
        raise FilterError(f"{_local(element.tag)} needs exactly one ogc:PropertyName")
    return ast.Attribute(names[0].text.strip())


def _literal(element: etree._Element, tag: str = "Literal") -> str:
    literals = [c for c in element if _local(c.tag) == tag]
    if len(literals) != 1:
        raise FilterError(f"{_local(element.tag)} needs exactly one ogc:{tag}")
    return "".join(literals[0].itertext())


def _numbers(text: str | None, count: int, what: str) -> list[float]:
    try:
        numbers = [float(v) for v in (text or "").replace(",", " ").split()]
    except ValueError:
        raise FilterError(f"{what} must be numbers") from None
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise FilterError(f"{what} must be {count} numbers")
    return numbers


def _envelope(element: etree._Element) -> tuple[list[float], str | None]:
    """(minx, miny, maxx, maxy) as written and the srsName of a gml:Envelope or gml:Box."""
    geometries = [c for c in element if isinstance(c.tag, str) and etree.QName(c).namespace == GML]
    if len(geometries) != 1 or _local(geometries[0].tag) not in ("Envelope", "Box"):
        raise FilterError("BBOX needs one gml:Envelope (or gml:Box)")
    geometry = geometries[0]
    if _local(geometry.tag) == "Envelope":
        lower = _numbers(geometry.findtext(f"{{{GML}}}lowerCorner"), 2, "gml:lowerCorner")
        upper = _numbers(geometry.findtext(f"{{{GML}}}upperCorner"), 2, "gml:upperCorner")
        return [*lower, *upper], geometry.get("srsName")
    return _numbers(geometry.findtext(f"{{{GML}}}coordinates"), 4, "gml:coordinates"), geometry.get("srsName")


def _from_xml(element: etree._Element, depth: int = 0) -> ast.Node:
    if depth > 20:
        raise FilterError("filter nested too deeply")
    name = _local(element.tag)
    if element.tag is etree.Comment or not name:
        raise FilterError("unexpected content in the filter")
    if etree.QName(element).namespace != OGC:
        raise FilterError(f"{name} is not an OGC Filter 1.1 element")
    children = [c for c in element if isinstance(c.tag, str)]
    if name in ("And", "Or"):
        if len(children) < 2:
            raise FilterError(f"ogc:{name} needs at least two operands")
        nodes = [_from_xml(c, depth + 1) for c in children]
        combine = ast.And if name == "And" else ast.Or
        result = nodes[0]
        for node in nodes[1:]:
            result = combine(result, node)
        return result
    if name == "Not":
        if len(children) != 1:
            raise FilterError("ogc:Not needs exactly one operand")
        return ast.Not(_from_xml(children[0], depth + 1))
    if name in _COMPARISONS:
        node = _COMPARISONS[name](_property(element), _literal(element))
        if element.get("matchCase", "true").lower() == "false":
            # Case-insensitive equality: a Like without wildcards, nocase.
            if name == "PropertyIsEqualTo":
                return ast.Like(node.lhs, node.rhs, True, "\x00", "\x01", "\x02", False)
        return node
    if name == "PropertyIsLike":
        wildcard, single = element.get("wildCard", "%"), element.get("singleChar", "_")
        escape = element.get("escapeChar", element.get("escape", "\\"))
        if not (len(wildcard) == len(single) == len(escape) == 1):
            raise FilterError("wildCard, singleChar and escapeChar must be single characters")
        nocase = element.get("matchCase", "true").lower() == "false"
        return ast.Like(_property(element), _literal(element), nocase, wildcard, single, escape, False)
    if name == "PropertyIsNull":
        return ast.IsNull(_property(element), False)
    if name == "PropertyIsBetween":
        low = [c for c in children if _local(c.tag) == "LowerBoundary"]
        high = [c for c in children if _local(c.tag) == "UpperBoundary"]
        if len(low) != 1 or len(high) != 1:
            raise FilterError("ogc:PropertyIsBetween needs ogc:LowerBoundary and ogc:UpperBoundary")
        return ast.Between(_property(element), _literal(low[0]), _literal(high[0]), False)
    if name == "BBOX":
        names = [c for c in children if _local(c.tag) == "PropertyName"]
        attribute = ast.Attribute(names[0].text.strip() if names and names[0].text else "ows:BoundingBox")
        (minx, miny, maxx, maxy), srs = _envelope(element)
        return ast.BBox(attribute, minx, miny, maxx, maxy, srs)
    raise FilterError(f"ogc:{name} is not supported")


def parse_filter(element: etree._Element) -> ast.Node:
    """An ogc:Filter element → AST (checked)."""
    if _local(element.tag) != "Filter" or etree.QName(element).namespace != OGC:
        raise FilterError("the constraint must be an ogc:Filter (Filter Encoding 1.1)")
    children = [c for c in element if isinstance(c.tag, str)]
    if len(children) != 1:
        raise FilterError("ogc:Filter needs exactly one operator")
    return check(_from_xml(children[0]))


def check(node: ast.Node) -> ast.Node:
    """Refuse operators and properties we do not evaluate, and trees larger than MAX_NODES."""
    count = 0

    def visit(n: Any) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise FilterError(f"constraint has more than {MAX_NODES} operators and values")
        if isinstance(n, ast.Attribute):
            if _queryable(n.name) is None:
                raise FilterError(f"unknown queryable {n.name!r}; use one of {', '.join(sorted(QUERYABLES))}")
            return
        if isinstance(n, (ast.And, ast.Or)):
            visit(n.lhs)
            visit(n.rhs)
        elif isinstance(n, ast.Not):
            visit(n.sub_node)
        elif isinstance(n, (ast.Comparison, ast.Like, ast.IsNull, ast.Between, ast.In)):
            if not isinstance(n.lhs, ast.Attribute):
                raise FilterError("the left side of a comparison must be a queryable")
            visit(n.lhs)
            for value in _operands(n):
                if isinstance(value, ast.Node) or not isinstance(value, (str, int, float, date, datetime)):
                    raise FilterError("comparison values must be literals")
                if _queryable(n.lhs.name) == "modified" and not isinstance(n, ast.Like) and \
                        _as_datetime(value) is None:
                    raise FilterError(f"{value!r} is not a date or date-time (ISO 8601)")
        elif isinstance(n, ast.BBox):
            if not isinstance(n.lhs, ast.Attribute) or _queryable(n.lhs.name) != "boundingbox":
                raise FilterError("BBOX applies to ows:BoundingBox only")
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (n.minx, n.miny, n.maxx, n.maxy)):
                raise FilterError("BBOX corners must be numbers")
            _box(n)
        else:
            raise FilterError(f"{type(n).__name__} is not supported in CSW constraints")

    visit(node)
    return node


def _operands(n: Any) -> list[Any]:
    if isinstance(n, ast.Comparison):
        return [n.rhs]
    if isinstance(n, ast.Like):
        return [n.pattern]
    if isinstance(n, ast.Between):
        return [n.low, n.high]
    if isinstance(n, ast.In):
        return list(n.sub_nodes)
    return []


def _queryable(name: str) -> str | None:
    return QUERYABLES.get(name.rsplit(":", 1)[-1].lower())


def _box(n: ast.BBox) -> tuple[float, float, float, float]:
    """The BBOX as lon/lat (see _LATLON/_LONLAT for the axis order of each srsName)."""
    crs = (n.crs or "").strip()
    if crs and _LATLON.match(crs):
        minx, miny, maxx, maxy = n.miny, n.minx, n.maxy, n.maxx
    elif not crs or _LONLAT.match(crs):
        minx, miny, maxx, maxy = n.minx, n.miny, n.maxx, n.maxy
    else:
        raise FilterError(f"BBOX srsName {crs!r} not supported; use EPSG:4326, EPSG:4490 or CRS84")
    if minx > maxx or miny > maxy:
        raise FilterError("BBOX lower corner must not exceed its upper corner")
    return float(minx), float(miny), float(maxx), float(maxy)


# --- evaluation ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _like_segments(pattern: str, wildcard: str, single: str, escape: str,
                   nocase: bool) -> tuple[tuple[re.Pattern[str], int], ...]:
    """The pattern split at its multi-character wildcards into (regex, width) of fixed-length segments: escaped
    literals, `.` for the single-character wildcard; each token matches exactly one character."""
    segments, current, i = [], [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == escape and i + 1 < len(pattern):
            current.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == wildcard:
            segments.append(current)
            current = []
        else:
            current.append("." if ch == single else re.escape(ch))
        i += 1
    segments.append(current)
    flags = re.S | (re.I if nocase else 0)
    return tuple((re.compile("".join(parts), flags), len(parts)) for parts in segments)


def _like(n: ast.Like, text: str) -> bool:
    """LIKE without a backtracking regex (a pattern like `%a%a%a%…` costs linear time, not exponential): the first
    segment anchors at the start, the last at the end, the ones between match leftmost in order — exact for
    fixed-length segments."""
    pairs = _like_segments(str(n.pattern), n.wildcard, n.singlechar, n.escapechar, bool(n.nocase))
    segments, widths = [p[0] for p in pairs], [p[1] for p in pairs]
    if len(segments) == 1:
        return segments[0].fullmatch(text) is not None
    first, last = segments[0], segments[-1]
    if widths[0] + widths[-1] > len(text) or not first.match(text, 0):
        return False
    pos = widths[0]
    for segment, width in zip(segments[1:-1], widths[1:-1], strict=True):
        if width == 0:
            continue
        found = segment.search(text, pos, len(text) - widths[-1])
        if found is None:
            return False
        pos = found.end()
    return last.fullmatch(text, len(text) - widths[-1]) is not None and len(text) - widths[-1] >= pos


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time.min)
    else:
        try:
            result = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return timezone.make_aware(result) if timezone.is_naive(result) else result


def _compare(op: type, left: Any, right: Any, key: str) -> bool:
    if key == "modified":
        a, b = _as_datetime(left), _as_datetime(right)
        if b is None:
            raise FilterError(f"{right!r} is not a date or date-time")
        if a is None:
            return False
    else:
        a, b = str(left), str(right)
    return {ast.Equal: a == b, ast.NotEqual: a != b, ast.LessThan: a < b, ast.GreaterThan: a > b,
            ast.LessEqual: a <= b, ast.GreaterEqual: a >= b}[op]


def _values(props: dict[str, Any], attribute: ast.Attribute) -> tuple[str, list[Any]]:
    key = _queryable(attribute.name) or ""
    value = props.get(key)
    if value is None or value == "":
        return key, []
    return key, list(value) if isinstance(value, list) else [value]


def evaluate(node: ast.Node, props: dict[str, Any]) -> bool:
    """Does a record (its Record.properties()) satisfy a checked constraint? Multi-valued properties (subject,
    format, title zh/en) match when any value does."""
    if isinstance(node, ast.And):
        return evaluate(node.lhs, props) and evaluate(node.rhs, props)
    if isinstance(node, ast.Or):
        return evaluate(node.lhs, props) or evaluate(node.rhs, props)
    if isinstance(node, ast.Not):
        return not evaluate(node.sub_node, props)
    if isinstance(node, ast.BBox):
        box, (minx, miny, maxx, maxy) = props.get("boundingbox"), _box(node)
        return bool(box) and box[0] <= maxx and box[2] >= minx and box[1] <= maxy and box[3] >= miny
    key, found = _values(props, node.lhs)
    if isinstance(node, ast.IsNull):
        return not found
    if isinstance(node, ast.Like):
        matched = any(_like(node, str(v)) for v in found)
        return matched != node.not_
    if isinstance(node, ast.Between):
        matched = any(_compare(ast.GreaterEqual, v, node.low, key) and _compare(ast.LessEqual, v, node.high, key)
                      for v in found)
        return matched != node.not_
    if isinstance(node, ast.In):
        matched = any(_compare(ast.Equal, v, option, key) for v in found for option in node.sub_nodes)
        return matched != node.not_
    if isinstance(node, ast.Comparison):
        if isinstance(node, ast.NotEqual):
            return not any(_compare(ast.Equal, v, node.rhs, key) for v in found)
        return any(_compare(type(node), v, node.rhs, key) for v in found)
    raise FilterError(f"{type(node).__name__} is not supported in CSW constraints")  # check() refuses it first
