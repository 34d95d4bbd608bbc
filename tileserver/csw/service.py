"""`/csw`: the CSW 2.0.2 operations (GetCapabilities, DescribeRecord, GetRecords, GetRecordById) over KVP (GET,
form POST) and XML (POST), behind the one access policy.

Order per request: credentials (tileserver.auth.request_user: Basic, Token, `?token=`, session; wrong ones → 401)
→ per-client OGC rate (tileserver.limits.throttle, 429) → body size (413) → one parse of the request into
`Query` (every parameter checked: 400 ExceptionReport naming the locator) → records of visible_layers(user) only
→ the answer, with the OGC security headers of tileserver.views. A layer the user may not read has no record:
GetRecordById of it is the same empty answer as for an id that does not exist.

Cost bounds (declared here in LIMITS; a Django setting or environment variable of the same name overrides):
CITYGIS_CSW_MAX_RECORDS records per page, CITYGIS_CSW_MAX_BODY
bytes of POST body, CITYGIS_CSW_MAX_IDS ids per GetRecordById, filters.MAX_NODES / MAX_CQL_CHARS per constraint.
Work per request is one registry query plus evaluation over the (hundreds of) readable layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import FloatField, Func
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from lxml import etree
from pygeofilter import ast

from city_gis.text_limits import xml_text
from layers.access import visible_layers

from .. import limits, safexml
from ..auth import AuthenticationFailed, request_user
from ..params import OGCParamError, parse_ogc_query
from ..views import CHALLENGE, _secure_headers
from . import filters
from .records import CSW, DC, DCT, GMD, OGC, OWS, XS, XSI, Record, dublin_core, iso19139, layer_record, q

VERSION = "2.0.2"
OUTPUT_FORMATS = ("application/xml", "text/xml")
SCHEMAS = {CSW: "csw", "csw:Record": "csw", GMD: "gmd"}
# Prefixes as CSW clients write them (OWSLib, QGIS MetaSearch, GeoNetwork): csw:Record, gmd:MD_Metadata.
TYPE_NAMES = {"csw:Record": "csw", "Record": "csw", "gmd:MD_Metadata": "gmd", "MD_Metadata": "gmd"}
ELEMENT_SETS = ("brief", "summary", "full")
RESULT_TYPES = ("results", "hits")
CONSTRAINT_LANGUAGES = ("FILTER", "CQL_TEXT")
XLINK = "http://www.w3.org/1999/xlink"
SCHEMA_LOCATION = f"{CSW} http://schemas.opengis.net/csw/2.0.2/CSW-discovery.xsd"
# Layer columns a record never needs (the extent's box comes from PostGIS, see records_for).
HEAVY_FIELDS = ("extent", "style", "source_where", "attribute_columns", "raster_path")


def max_records() -> int:
    return int(settings.CITYGIS_CSW_MAX_RECORDS)


def max_body() -> int:
    return int(settings.CITYGIS_CSW_MAX_BODY)


def max_ids() -> int:
    return int(settings.CITYGIS_CSW_MAX_IDS)


class CSWError(Exception):
    """Answered with an OWS 1.0 ExceptionReport (400 unless `status` says otherwise)."""

    def __init__(self, message: str, code: str = "InvalidParameterValue", locator: str = "",
                 status: int = 400) -> None:
        super().__init__(message)
        self.code, self.locator, self.status = code, locator, status


def exception_report(message: str, code: str, locator: str = "", status: int = 400) -> HttpResponse:
    root = etree.Element(q(OWS, "ExceptionReport"), {"version": "1.2.0", "language": "en"}, nsmap={"ows": OWS})
    exc = etree.SubElement(root, q(OWS, "Exception"), {"exceptionCode": code})
    if locator:
        exc.set("locator", xml_text(locator))
    etree.SubElement(exc, q(OWS, "ExceptionText")).text = xml_text(message)
    response = _xml_response(root, status)
    if status == 401:
        response["WWW-Authenticate"] = CHALLENGE
    return response


def _xml_response(root: etree._Element, status: int = 200) -> HttpResponse:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return HttpResponse(body, status=status, content_type="application/xml; charset=utf-8")


# --- parsing the request -------------------------------------------------------------------------------------


@dataclass
class Query:
    """One CSW request, whichever encoding it came in."""

    operation: str
    version: str = ""
    type_names: list[str] = field(default_factory=lambda: ["csw"])
    element_set: str = "summary"
    schema: str = "csw"
    result_type: str = "results"
    start: int = 1
    max: int = 10
    constraint: ast.Node | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    ids: list[str] = field(default_factory=list)
    sections: list[str] | None = None


OPERATIONS = {"getcapabilities": "GetCapabilities", "describerecord": "DescribeRecord",
              "getrecords": "GetRecords", "getrecordbyid": "GetRecordById"}


def _operation(name: str) -> str:
    if not name:
        raise CSWError("REQUEST is required", "MissingParameterValue", "request")
    operation = OPERATIONS.get(name.lower())
    if operation is None:
        raise CSWError(f"unknown request {name[:60]!r}; one of {', '.join(OPERATIONS.values())}",
                       "OperationNotSupported", "request")
    return operation


def _check_service_version(query: Query, service: str | None, version: str | None, accept: str | None) -> None:
    if service is None or service == "":
        raise CSWError("SERVICE=CSW is required", "MissingParameterValue", "service")
    if service.upper() != "CSW":
        raise CSWError(f"SERVICE must be CSW, not {service[:40]!r}", "InvalidParameterValue", "service")
    if query.operation == "GetCapabilities":
        if accept and VERSION not in [v.strip() for v in accept.split(",")]:
            raise CSWError(f"this catalogue speaks CSW {VERSION} only", "VersionNegotiationFailed",
                           "acceptVersions")
        return
    if not version:
        raise CSWError("VERSION is required", "MissingParameterValue", "version")
    if version != VERSION:
        raise CSWError(f"VERSION must be {VERSION}", "InvalidParameterValue", "version")
    query.version = version


def _choice(value: str | None, allowed: tuple[str, ...], locator: str, default: str) -> str:
    if value is None or value == "":
        return default
    for option in allowed:
        if value.lower() == option.lower():
            return option
    raise CSWError(f"{locator} must be one of {', '.join(allowed)}", "InvalidParameterValue", locator)


def _schema(value: str | None) -> str:
    if not value:
        return "csw"
    if value.strip() not in SCHEMAS:
        raise CSWError(f"outputSchema must be {CSW} (Dublin Core) or {GMD} (ISO 19139)",
                       "InvalidParameterValue", "outputSchema")
    return SCHEMAS[value.strip()]


def _format(value: str | None) -> None:
    if value and value.split(";")[0].strip().lower() not in OUTPUT_FORMATS:
        raise CSWError("outputFormat must be application/xml", "InvalidParameterValue", "outputFormat")


def _type_names(value: str | None, locator: str, *, required: bool) -> list[str]:
    names = [n for n in (value or "").replace(",", " ").split() if n]
    if not names:
        if required:
            raise CSWError(f"{locator} is required (csw:Record or gmd:MD_Metadata)", "MissingParameterValue",
                           locator)
        return ["csw", "gmd"]
    result = []
    for name in names:
        if name not in TYPE_NAMES:
            raise CSWError(f"unknown type name {name[:60]!r}; csw:Record or gmd:MD_Metadata",
                           "InvalidParameterValue", locator)
        result.append(TYPE_NAMES[name])
    return result


def _integer(value: str | None, locator: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise CSWError(f"{locator} must be an integer from {low} to {high}", "InvalidParameterValue", locator)
    return int(text)


def _sort_kvp(value: str | None) -> list[tuple[str, bool]]:
    result = []
    for item in filter(None, (value or "").split(",")):
        name, _, order = item.strip().rpartition(":")
        if order.upper() not in ("A", "D") or not name:
            name, order = item.strip(), "A"
        result.append(_sort_key(name, order.upper() == "D"))
    return result


def _sort_key(name: str, descending: bool) -> tuple[str, bool]:
    key = filters.QUERYABLES.get(name.rsplit(":", 1)[-1].lower())
    if key not in filters.SORTABLE:
        raise CSWError(f"cannot sort by {name[:60]!r}; sort by dc:title, dc:identifier or dct:modified",
                       "InvalidParameterValue", "sortBy")
    return key, descending


def _constraint_kvp(params: dict[str, str]) -> ast.Node | None:
    text = params.get("constraint")
    if not text:
        return None
    language = _choice(params.get("constraintlanguage"), CONSTRAINT_LANGUAGES, "constraintLanguage", "")
    if not language:
        raise CSWError("CONSTRAINTLANGUAGE (FILTER or CQL_TEXT) is required with CONSTRAINT",
                       "MissingParameterValue", "constraintLanguage")
    try:
        if language == "CQL_TEXT":
            return filters.parse_cql(text)
        return filters.parse_filter(_parse_xml(text.encode("utf-8"), "constraint"))
    except filters.FilterError as exc:
        raise CSWError(str(exc), "InvalidParameterValue", "constraint") from None


def from_kvp(params: dict[str, str]) -> Query:
    query = Query(_operation(params.get("request", "")))
    _check_service_version(query, params.get("service"), params.get("version"), params.get("acceptversions"))
    if query.operation == "GetCapabilities":
        sections = params.get("sections")
        query.sections = [s.strip() for s in sections.split(",") if s.strip()] if sections else None
        return query
    _format(params.get("outputformat"))
    if query.operation == "DescribeRecord":
        query.type_names = _type_names(params.get("typename"), "typeName", required=False)
        return query
    query.schema = _schema(params.get("outputschema"))
    if params.get("elementname"):
        raise CSWError("ElementName is not supported; use ElementSetName", "InvalidParameterValue", "ElementName")
    if query.operation == "GetRecordById":
        query.element_set = _choice(params.get("elementsetname"), ELEMENT_SETS, "ElementSetName", "summary")
        query.ids = _ids([i for i in params.get("id", "").split(",") if i.strip()])
        return query
    query.type_names = _type_names(params.get("typenames"), "typeNames", required=True)
    query.element_set = _choice(params.get("elementsetname"), ELEMENT_SETS, "ElementSetName", "summary")
    query.result_type = _choice(params.get("resulttype"), RESULT_TYPES, "resultType", "hits")
    query.start = _integer(params.get("startposition"), "startPosition", 1, 1, 10**9)
    query.max = _integer(params.get("maxrecords"), "maxRecords", 10, 0, max_records())
    query.constraint = _constraint_kvp(params)
    query.sort = _sort_kvp(params.get("sortby"))
    return query


def _ids(ids: list[str]) -> list[str]:
    if not ids:
        raise CSWError("ID is required", "MissingParameterValue", "id")
    if len(ids) > max_ids():
        raise CSWError(f"at most {max_ids()} ids per request", "InvalidParameterValue", "id")
    return [i.strip() for i in ids]


def _parse_xml(body: bytes, locator: str) -> etree._Element:
    """The request's (or a constraint's) root element, read by tileserver.safexml; its refusals as CSW errors."""
    try:
        return safexml.parse(body)
    except safexml.Refused as refusal:
        if refusal.reason == "syntax":
            raise CSWError(f"not well-formed XML: {refusal.detail}", "NoApplicableCode"
                           if locator == "request" else "InvalidParameterValue", locator) from None
        message = ("entity references are not accepted" if refusal.reason == "entity"
                   else "document type declarations are not accepted")
        raise CSWError(message, "InvalidParameterValue", locator) from None


def _child(element: etree._Element, ns: str, tag: str) -> etree._Element | None:
    return element.find(q(ns, tag))


def from_xml(root: etree._Element) -> Query:
    if etree.QName(root).namespace != CSW:
        raise CSWError("the request must be a CSW 2.0.2 element (csw:GetRecords, …)", "OperationNotSupported",
                       "request")
    query = Query(_operation(etree.QName(root).localname))
    accept = None
    if query.operation == "GetCapabilities":
        versions = root.findall(f"{{{OWS}}}AcceptVersions/{{{OWS}}}Version")
        accept = ",".join((v.text or "").strip() for v in versions) or None
    _check_service_version(query, root.get("service"), root.get("version"), accept)
    if query.operation == "GetCapabilities":
        sections = root.findall(f"{{{OWS}}}Sections/{{{OWS}}}Section")
        query.sections = [(s.text or "").strip() for s in sections] or None
        return query
    _format(root.get("outputFormat"))
    if query.operation == "DescribeRecord":
        names = " ".join((t.text or "").strip() for t in root.findall(q(CSW, "TypeName")))
        query.type_names = _type_names(names, "TypeName", required=False)
        return query
    query.schema = _schema(root.get("outputSchema"))
    if query.operation == "GetRecordById":
        query.ids = _ids([(i.text or "") for i in root.findall(q(CSW, "Id")) if (i.text or "").strip()])
        element_set = _child(root, CSW, "ElementSetName")
        query.element_set = _choice(element_set.text.strip() if element_set is not None and element_set.text else None,
                                    ELEMENT_SETS, "ElementSetName", "summary")
        return query
    query.result_type = _choice(root.get("resultType"), RESULT_TYPES, "resultType", "hits")
    query.start = _integer(root.get("startPosition"), "startPosition", 1, 1, 10**9)
    query.max = _integer(root.get("maxRecords"), "maxRecords", 10, 0, max_records())
    if root.find(q(CSW, "ResponseHandler")) is not None:
        raise CSWError("asynchronous responses are not supported", "InvalidParameterValue", "ResponseHandler")
    queries = root.findall(q(CSW, "Query"))
    if len(queries) != 1:
        raise CSWError("GetRecords needs exactly one csw:Query", "MissingParameterValue", "Query")
    element = queries[0]
    query.type_names = _type_names(element.get("typeNames"), "typeNames", required=True)
    if _child(element, CSW, "ElementName") is not None:
        raise CSWError("ElementName is not supported; use ElementSetName", "InvalidParameterValue", "ElementName")
    element_set = _child(element, CSW, "ElementSetName")
    query.element_set = _choice(element_set.text.strip() if element_set is not None and element_set.text else None,
                                ELEMENT_SETS, "ElementSetName", "summary")
    constraint = _child(element, CSW, "Constraint")
    if constraint is not None:
        query.constraint = _constraint_xml(constraint)
    sort = _child(element, OGC, "SortBy")
    if sort is not None:
        for prop in sort.findall(q(OGC, "SortProperty")):
            name = (prop.findtext(q(OGC, "PropertyName")) or "").strip()
            order = (prop.findtext(q(OGC, "SortOrder")) or "ASC").strip().upper()
            if order not in ("ASC", "DESC"):
                raise CSWError("SortOrder must be ASC or DESC", "InvalidParameterValue", "sortBy")
            query.sort.append(_sort_key(name, order == "DESC"))
    return query


def _constraint_xml(constraint: etree._Element) -> ast.Node:
    flt, cql = _child(constraint, OGC, "Filter"), _child(constraint, CSW, "CqlText")
    try:
        if flt is not None and cql is None:
            return filters.parse_filter(flt)
        if cql is not None and flt is None:
            return filters.parse_cql((cql.text or "").strip())
    except filters.FilterError as exc:
        raise CSWError(str(exc), "InvalidParameterValue", "Constraint") from None
    raise CSWError("csw:Constraint needs one ogc:Filter or one csw:CqlText", "InvalidParameterValue",
                   "Constraint")


# --- answering -----------------------------------------------------------------------------------------------


def _edge(function: str) -> Func:
    return Func("extent", function=function, output_field=FloatField())


def records_for(user, base: str, names: list[str] | None = None) -> list[Record]:
    """The records `user` may see (of `names` only, when given), in registry order: one query, the extent's box
    computed by PostGIS (the extent polygon itself and the styles are never loaded)."""
    layers = visible_layers(user).select_related("owner").defer(*HEAVY_FIELDS).annotate(
        bbox_minx=_edge("ST_XMin"), bbox_miny=_edge("ST_YMin"), bbox_maxx=_edge("ST_XMax"), bbox_maxy=_edge("ST_YMax"))
    if names is not None:
        layers = layers.filter(name__in=names)
    return [layer_record(layer, base, bbox=None if layer.bbox_minx is None else
                         (layer.bbox_minx, layer.bbox_miny, layer.bbox_maxx, layer.bbox_maxy)) for layer in layers]


def _encode(record: Record, query: Query) -> etree._Element:
    return iso19139(record, query.element_set) if query.schema == "gmd" else dublin_core(record, query.element_set)


def get_records(query: Query, records: list[Record]) -> etree._Element:
    pairs = [(r, r.properties()) for r in records]
    if query.constraint is not None:
        try:
            pairs = [(r, p) for r, p in pairs if filters.evaluate(query.constraint, p)]
        except filters.FilterError as exc:  # check() refuses what evaluation cannot do: defensive only
            raise CSWError(str(exc), "InvalidParameterValue", "Constraint") from None
    for key, descending in reversed(query.sort):  # stable sorts, last key first
        pairs.sort(key=lambda pair, k=key: pair[0].title if k == "title" else str(pair[1][k]), reverse=descending)
    records = [r for r, _ in pairs]
    matched = len(records)
    page = [] if query.result_type == "hits" else records[query.start - 1:query.start - 1 + query.max]
    after = query.start - 1 + (len(page) if query.result_type == "results" else 0)
    next_record = after + 1 if after < matched and query.result_type == "results" else 0
    root = etree.Element(q(CSW, "GetRecordsResponse"), {"version": VERSION, q(XSI, "schemaLocation"): SCHEMA_LOCATION},
                         nsmap={"csw": CSW, "xsi": XSI})
    etree.SubElement(root, q(CSW, "SearchStatus"), timestamp=timezone.localtime().isoformat(timespec="seconds"))
    results = etree.SubElement(root, q(CSW, "SearchResults"), {
        "numberOfRecordsMatched": str(matched), "numberOfRecordsReturned": str(len(page)),
        "nextRecord": str(next_record), "recordSchema": CSW if query.schema == "csw" else GMD,
        "elementSet": query.element_set})
    for record in page:
        results.append(_encode(record, query))
    return root


def get_record_by_id(query: Query, records: list[Record]) -> etree._Element:
    by_id = {r.identifier: r for r in records}
    root = etree.Element(q(CSW, "GetRecordByIdResponse"), nsmap={"csw": CSW})
    for identifier in dict.fromkeys(query.ids):
        if identifier in by_id:  # unreadable and missing ids alike: no record
            root.append(_encode(by_id[identifier], query))
    return root


def describe_record(query: Query) -> etree._Element:
    root = etree.Element(q(CSW, "DescribeRecordResponse"), nsmap={"csw": CSW, "xs": XS})
    locations = {"csw": (CSW, "http://schemas.opengis.net/csw/2.0.2/record.xsd"),
                 "gmd": (GMD, "http://schemas.opengis.net/iso/19139/20060504/gmd/gmd.xsd")}
    for name in dict.fromkeys(query.type_names):
        namespace, location = locations[name]
        component = etree.SubElement(root, q(CSW, "SchemaComponent"), schemaLanguage="XMLSCHEMA",
                                     targetNamespace=namespace)
        schema = etree.SubElement(component, q(XS, "schema"), targetNamespace=namespace,
                                  elementFormDefault="qualified")
        etree.SubElement(schema, q(XS, "include"), schemaLocation=location)
    return root


def _values(parent: etree._Element, tag: str, name: str, options: list[str] | tuple[str, ...]) -> None:
    element = etree.SubElement(parent, q(OWS, tag), name=name)
    for option in options:
        etree.SubElement(element, q(OWS, "Value")).text = option


CAPABILITY_SECTIONS = ("ServiceIdentification", "ServiceProvider", "OperationsMetadata", "Filter_Capabilities")


def capabilities(query: Query, url: str) -> etree._Element:
    sections = query.sections
    if sections and "All" not in sections:
        unknown = [s for s in sections if s not in CAPABILITY_SECTIONS]
        if unknown:
            raise CSWError(f"unknown section {unknown[0][:60]!r}", "InvalidParameterValue", "sections")
    wanted = set(CAPABILITY_SECTIONS) if not sections or "All" in sections else set(sections)
    root = etree.Element(q(CSW, "Capabilities"), {"version": VERSION, q(XSI, "schemaLocation"): SCHEMA_LOCATION},
                         nsmap={"csw": CSW, "ows": OWS, "ogc": OGC, "xlink": XLINK, "xsi": XSI, "dc": DC,
                                "dct": DCT, "gmd": GMD})
    if "ServiceIdentification" in wanted:
        ident = etree.SubElement(root, q(OWS, "ServiceIdentification"))
        etree.SubElement(ident, q(OWS, "Title")).text = "CityGIS 六盘水 地理信息资源目录"
        etree.SubElement(ident, q(OWS, "Abstract")).text = (
            "统一图层注册表的目录服务：每个图层一条记录（标题、摘要、关键词、责任部门、范围、坐标系、更新频率）"
            "及其 WMS、WMTS、WFS、OGC API 链接。CSW 2.0.2 catalogue of the CityGIS layer registry.")
        keywords = etree.SubElement(ident, q(OWS, "Keywords"))
        for word in ("CSW", "catalogue", "目录", "六盘水"):
            etree.SubElement(keywords, q(OWS, "Keyword")).text = word
        etree.SubElement(ident, q(OWS, "ServiceType")).text = "CSW"
        etree.SubElement(ident, q(OWS, "ServiceTypeVersion")).text = VERSION
        etree.SubElement(ident, q(OWS, "Fees")).text = "none"
        etree.SubElement(ident, q(OWS, "AccessConstraints")).text = (
            "public layers anonymously; internal and restricted layers with credentials (HTTP Basic or token)")
    if "ServiceProvider" in wanted:
        provider = etree.SubElement(root, q(OWS, "ServiceProvider"))
        etree.SubElement(provider, q(OWS, "ProviderName")).text = "CityGIS"
        etree.SubElement(provider, q(OWS, "ProviderSite"), {q(XLINK, "href"): url})
        contact = etree.SubElement(provider, q(OWS, "ServiceContact"))
        etree.SubElement(contact, q(OWS, "IndividualName")).text = "CityGIS"
    if "OperationsMetadata" in wanted:
        ops = etree.SubElement(root, q(OWS, "OperationsMetadata"))
        params = {
            "GetCapabilities": [("sections", ["All", *CAPABILITY_SECTIONS])],
            "DescribeRecord": [("typeName", ["csw:Record", "gmd:MD_Metadata"]), ("outputFormat", ["application/xml"]),
                               ("schemaLanguage", ["http://www.w3.org/XML/Schema"])],
            "GetRecords": [("typeNames", ["csw:Record", "gmd:MD_Metadata"]), ("outputFormat", ["application/xml"]),
                           ("outputSchema", [CSW, GMD]), ("resultType", list(RESULT_TYPES)),
                           ("ElementSetName", list(ELEMENT_SETS)),
                           ("CONSTRAINTLANGUAGE", list(CONSTRAINT_LANGUAGES))],
            "GetRecordById": [("outputSchema", [CSW, GMD]), ("ElementSetName", list(ELEMENT_SETS))],
        }
        for name, parameters in params.items():
            op = etree.SubElement(ops, q(OWS, "Operation"), name=name)
            http = etree.SubElement(etree.SubElement(op, q(OWS, "DCP")), q(OWS, "HTTP"))
            etree.SubElement(http, q(OWS, "Get"), {q(XLINK, "href"): url})
            post = etree.SubElement(http, q(OWS, "Post"), {q(XLINK, "href"): url})
            _values(post, "Constraint", "PostEncoding", ["XML"])
            for pname, options in parameters:
                _values(op, "Parameter", pname, options)
            if name == "GetRecords":
                _values(op, "Constraint", "SupportedDublinCoreQueryables",
                        ["csw:AnyText", "dc:title", "dc:subject", "dc:identifier", "dc:type", "dc:format",
                         "dc:creator", "dc:publisher", "dct:abstract", "dct:modified", "ows:BoundingBox"])
                _values(op, "Constraint", "SupportedISOQueryables",
                        ["apiso:AnyText", "apiso:Title", "apiso:AlternateTitle", "apiso:Abstract", "apiso:Subject",
                         "apiso:Identifier", "apiso:Type", "apiso:Format", "apiso:Modified",
                         "apiso:OrganisationName", "apiso:BoundingBox", "apiso:CRS", "apiso:TopicCategory"])
        _values(ops, "Parameter", "service", ["CSW"])
        _values(ops, "Parameter", "version", [VERSION])
        _values(ops, "Constraint", "MaxRecordDefault", [str(max_records())])
        _values(ops, "Constraint", "PostEncoding", ["XML"])
    if "Filter_Capabilities" in wanted:
        fc = etree.SubElement(root, q(OGC, "Filter_Capabilities"))
        spatial = etree.SubElement(fc, q(OGC, "Spatial_Capabilities"))
        operands = etree.SubElement(spatial, q(OGC, "GeometryOperands"))
        etree.SubElement(operands, q(OGC, "GeometryOperand")).text = "gml:Envelope"
        operators = etree.SubElement(spatial, q(OGC, "SpatialOperators"))
        etree.SubElement(operators, q(OGC, "SpatialOperator"), name="BBOX")
        scalar = etree.SubElement(fc, q(OGC, "Scalar_Capabilities"))
        etree.SubElement(scalar, q(OGC, "LogicalOperators"))
        comparison = etree.SubElement(scalar, q(OGC, "ComparisonOperators"))
        for op in ("EqualTo", "NotEqualTo", "LessThan", "GreaterThan", "LessThanEqualTo", "GreaterThanEqualTo",
                   "Like", "NullCheck", "Between"):
            etree.SubElement(comparison, q(OGC, "ComparisonOperator")).text = op
        etree.SubElement(etree.SubElement(fc, q(OGC, "Id_Capabilities")), q(OGC, "EID"))
    return root


def _read_body(request: HttpRequest) -> bytes:
    limit = max_body()
    try:
        return safexml.read_body(request, limit)
    except safexml.Refused as refusal:
        if refusal.reason == "length":
            raise CSWError("Content-Length is not a number", "InvalidParameterValue", "Content-Length") from None
        raise CSWError(f"request body larger than {limit} bytes", "InvalidParameterValue", "body",
                       status=413) from None


def parse_request(request: HttpRequest) -> Query:
    """The Query of a GET (KVP), a form POST (KVP) or an XML POST."""
    try:
        if request.method == "GET":
            return from_kvp(parse_ogc_query(request.META.get("QUERY_STRING", "")))
        body = _read_body(request)
        if request.content_type == "application/x-www-form-urlencoded":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise CSWError("body is not valid UTF-8", "InvalidParameterValue", "body") from None
            return from_kvp(parse_ogc_query(text))
        if not body.strip():
            raise CSWError("POST needs a CSW XML request body", "MissingParameterValue", "request")
        return from_xml(_parse_xml(body, "request"))
    except OGCParamError as exc:
        raise CSWError(str(exc), "InvalidParameterValue", exc.parameter.lower()) from None


def answer(request: HttpRequest, user) -> HttpResponse:
    query = parse_request(request)
    url = request.build_absolute_uri(request.path)
    if query.operation == "GetCapabilities":
        return _xml_response(capabilities(query, url))
    if query.operation == "DescribeRecord":
        return _xml_response(describe_record(query))
    base = request.build_absolute_uri("/").rstrip("/")
    if query.operation == "GetRecordById":
        return _xml_response(get_record_by_id(query, records_for(user, base, query.ids)))
    return _xml_response(get_records(query, records_for(user, base)))


@csrf_exempt  # read-only: nothing a cross-site POST could change
@require_http_methods(["GET", "POST"])
def csw(request: HttpRequest) -> HttpResponse:
    """`/csw`: the CSW 2.0.2 endpoint."""
    user: Any = None
    try:
        user = request_user(request)
        retry = limits.throttle(request, user)
        if retry is not None:
            response = exception_report("too many requests; slow down", "NoApplicableCode", status=429)
            response["Retry-After"] = str(retry)
        else:
            response = answer(request, user)
    except AuthenticationFailed as exc:
        response = exception_report(str(exc), "NoApplicableCode", "Authorization", status=401)
    except CSWError as exc:
        response = exception_report(str(exc), exc.code, exc.locator, status=exc.status)
    return _secure_headers(response, user)
