"""WFS-T: the Transaction operation at `POST /ows` (and `/service`), so a department's data stewards edit their
layers from QGIS (WFS 1.1.0; 1.0.0 and 2.0.0 bodies are read too).

Nothing here decides what an edit may be or who may make it: every Transaction becomes, per layer it touches,
one edit session of layers.versions.apply_edits (validation, one LayerVersion with its feature history, tile
invalidation), inside one database transaction — all or nothing, across layers too. The writer is the OGC API
writer (tileserver.ogcapi.writes.write_user: `Authorization: Token`, or the session with its CSRF token; Basic
and `?token=` never write), the layer must be a WFS feature type the user reads (wfs.check_access) and a
collection the user may write (writes.writable_collection → layers.access.can_write), and each feature passes
the OGC API's own member checks (writes.feature_edit). This module only translates XML:

- Insert: feature elements named by type (`ms:land.parcels`); the geometry property holds GML 2/3.1/3.2, in
  `srsName` (the geometry's, else the Insert's, else the feature type's default EPSG:4490 — lat/lon in 1.1.0 and
  2.0.0, lon/lat in 1.0.0) of CITYGIS_OGC_SRS, read by PostGIS (ST_GeomFromGML) and transformed to EPSG:4490.
  The server assigns ids (idgen GenerateNew): an id column in the feature is ignored.
- Update: `Property` (`Name`/`ValueReference` + `Value`; no Value = null), the geometry property included.
- Update/Delete select features by id only (ogc:FeatureId, ogc:GmlObjectId, fes:ResourceId `<type>.<id>`); any
  other filter, Native, Replace and lock ids are refused with an OWS exception naming the element.
- Cost: body ≤ CITYGIS_WFST_MAX_BODY bytes (413), ≤ CITYGIS_WFST_MAX_FEATURES features (400), read and parsed by
  tileserver.safexml (the CSW's reading too): no DTDs, entities or network, lxml's depth/text limits (huge_tree
  off); one OGC rate unit.

Answers: TransactionResponse (1.1.0: TransactionSummary + InsertResults with `ogc:FeatureId fid` per new
feature, in insert order, as QGIS reads them; 1.0.0: WFS_TransactionResponse; 2.0.0: fes:ResourceId); errors
are ows:ExceptionReport with exceptionCode and a locator naming the action (its `handle`, else `Insert[2]`) and
member (`Insert[2]/geom`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from lxml import etree

from city_gis.text_limits import xml_text
from layers.access import writable_layers
from layers.models import FeatureHistory, Layer, LayerKind
from layers.versions import (
    MAX_COMMENT,
    MAX_EDITS,
    VersionError,
    apply_edits,
    is_versioned,
    lock_layer,
    max_feature_id,
)
from tileserver import limits
from tileserver.ogcapi import collections as colls
from tileserver.ogcapi import writes
from tileserver.ogcapi.problems import Problem

from . import freshness, safexml
from .wfs import WFSError, bare_name, check_access, exception_report, feature_types, readable_feature_types

log = logging.getLogger(__name__)

WFS = "http://www.opengis.net/wfs"
WFS20 = "http://www.opengis.net/wfs/2.0"
OGC = "http://www.opengis.net/ogc"
FES = "http://www.opengis.net/fes/2.0"
GML = "http://www.opengis.net/gml"
GML32 = "http://www.opengis.net/gml/3.2"
OWS = "http://www.opengis.net/ows"
XLINK = "http://www.w3.org/1999/xlink"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
VERSIONS = {"1.0.0": WFS, "1.1.0": WFS, "2.0.0": WFS20}
BODY_TYPES = ("text/xml", "application/xml", "application/gml+xml")
ACTIONS = ("Insert", "Update", "Delete")
REFUSED_ACTIONS = {"Native": "Native actions are not executed", "Replace": "Replace is not supported; use Update",
                   "LockId": "feature locking is not supported (no LockFeature / GetFeatureWithLock)"}
# EPSG codes a geometry's srsName may name: the CRS list every feature type advertises.
_SRS_PREFIXES = ("urn:ogc:def:crs:epsg::", "urn:ogc:def:crs:epsg:", "urn:x-ogc:def:crs:epsg:",
                 "http://www.opengis.net/def/crs/epsg/0/", "epsg:", "http://www.opengis.net/gml/srs/epsg.xml#")
_CRS84 = ("urn:ogc:def:crs:ogc:1.3:crs84", "http://www.opengis.net/def/crs/ogc/1.3/crs84", "crs:84")
# A generic layer is published with GenericFeature's columns (tileserver.specs): its JSONB `attributes` as JSON
# text, which an edit sends back whole, and the columns the server keeps.
GENERIC_ATTRIBUTES = "attributes"
GENERIC_SERVER_COLUMNS = frozenset({"created_at", "updated_at", "layer_id"})
# safexml's refusals as a WFS-T exception report: (message, exceptionCode, locator, HTTP status).
_REFUSALS = {
    "dtd": ("DTDs and entity declarations are not accepted", "OperationParsingFailed", "DOCTYPE", 400),
    "entity": ("entity references are not accepted", "OperationParsingFailed", "body", 400),
    "syntax": ("the body is not well-formed XML: {detail}", "OperationParsingFailed", "body", 400),
    "length": ("Content-Length is not a number", "InvalidParameterValue", "Content-Length", 400),
    "size": ("the Transaction is larger than {limit} bytes; send fewer features per commit",
             "InvalidParameterValue", "body", 413),
}


def max_body() -> int:
    return int(settings.CITYGIS_WFST_MAX_BODY)


def max_features() -> int:
    """Features per Transaction: the setting, never above the edit session's own bound."""
    return min(int(settings.CITYGIS_WFST_MAX_FEATURES), MAX_EDITS)


# ------------------------------------------------------------------------------------------------ capabilities


def writable_feature_types(user) -> frozenset[str]:
    """The feature types `user` reads and may write (layers.access.writable_layers, versioned tables only)."""
    if user is None or not user.is_authenticated:
        return frozenset()
    readable = set(readable_feature_types(user))
    if not readable:
        return frozenset()
    candidates = writable_layers(user).filter(kind=LayerKind.VECTOR, name__in=readable)
    return frozenset(layer.name for layer in candidates if is_versioned(layer))


def advertise(root: etree._Element, writable: frozenset[str], online: str) -> None:
    """Add Transaction to a WFS 1.1.0 capabilities document (in place): the operation in OperationsMetadata when
    any type is writable, and Query/Insert/Update/Delete in the Operations of each writable feature type — which is
    how QGIS decides that a layer is editable. Other versions are left as they are (QGIS reads a 2.0.0 Transaction
    operation as "every type is editable")."""
    if root.get("version") != "1.1.0" or not writable:
        return
    marked = 0
    for feature_type in root.iter(f"{{{WFS}}}FeatureType"):
        if bare_name(feature_type.findtext(f"{{{WFS}}}Name") or "") not in writable:
            continue
        for old in feature_type.findall(f"{{{WFS}}}Operations"):
            feature_type.remove(old)
        operations = etree.Element(f"{{{WFS}}}Operations")
        for name in ("Query", "Insert", "Update", "Delete"):
            etree.SubElement(operations, f"{{{WFS}}}Operation").text = name
        # schema order: Name, Title, Abstract, Keywords, DefaultSRS, OtherSRS* | NoSRS, Operations, OutputFormats…
        anchor = None
        for child in feature_type:
            if etree.QName(child).localname in ("Name", "Title", "Abstract", "Keywords", "DefaultSRS", "OtherSRS",
                                                "NoSRS"):
                anchor = child
        if anchor is None:
            feature_type.insert(0, operations)
        else:
            anchor.addnext(operations)
        marked += 1
    metadata = root.find(f"{{{OWS}}}OperationsMetadata")
    if not marked or metadata is None:
        return
    operation = etree.Element(f"{{{OWS}}}Operation", name="Transaction")
    http = etree.SubElement(etree.SubElement(operation, f"{{{OWS}}}DCP"), f"{{{OWS}}}HTTP")
    etree.SubElement(http, f"{{{OWS}}}Post", {f"{{{XLINK}}}href": online})
    for name, values in (("inputFormat", ("text/xml; subtype=gml/3.1.1",)), ("idgen", ("GenerateNew",)),
                         ("releaseAction", ("ALL",))):
        parameter = etree.SubElement(operation, f"{{{OWS}}}Parameter", name=name)
        for value in values:
            etree.SubElement(parameter, f"{{{OWS}}}Value").text = value
    operations = metadata.findall(f"{{{OWS}}}Operation")
    if operations:
        operations[-1].addnext(operation)
    else:
        metadata.insert(0, operation)


# ------------------------------------------------------------------------------------------------ parsing


@dataclass
class Action:
    """One Insert (of one feature), Update or Delete of the request, and the edits it becomes."""

    kind: str
    locator: str  # the action's handle or position (`Insert[2]`, `Insert[1]/ms:land.parcels[3]`)
    type_name: str  # the registry name (bare, lower case)
    order: int  # position in the request: InsertResults list new ids in this order
    raw: list[Any] = field(default_factory=list)  # Insert: [props]; Update: [(id, props)]; Delete: [id]
    edits: list[dict[str, Any]] = field(default_factory=list)  # apply_edits' edits, one per raw entry
    members: list[dict[str, str]] = field(default_factory=list)  # per edit: apply_edits member → WFS locator


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _ns(element: etree._Element) -> str:
    return (etree.QName(element).namespace or "") if isinstance(element.tag, str) else ""


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [e for e in parent if isinstance(e.tag, str)]


def _refused(refusal: safexml.Refused) -> WFSError:
    message, code, locator, status = _REFUSALS[refusal.reason]
    return WFSError(message.format(detail=refusal.detail, limit=max_body()), code, locator, status=status)


def parse_body(raw: bytes) -> etree._Element:
    """The root element of `raw`: well-formed XML without a DTD (no entities, no network; tileserver.safexml)."""
    try:
        return safexml.parse(raw)
    except safexml.Refused as refusal:
        raise _refused(refusal) from None


def _version(root: etree._Element) -> str:
    """The Transaction's version (its namespace must be that version's)."""
    name = _local(root)[:60] or "?"
    if name != "Transaction" or _ns(root) not in (WFS, WFS20):
        if _ns(root) in (WFS, WFS20):
            raise WFSError(f"{name} is answered by GET (KVP); POST takes Transaction only", "OperationNotSupported",
                           name)
        raise WFSError("the body must be a wfs:Transaction", "OperationNotSupported", name)
    service = root.get("service")
    if not service:
        raise WFSError("service is missing", "MissingParameterValue", "service")
    if service != "WFS":
        raise WFSError("service must be WFS", "InvalidParameterValue", "service")
    version = root.get("version")
    if not version:
        raise WFSError("version is missing", "MissingParameterValue", "version")
    if VERSIONS.get(version) != _ns(root):
        raise WFSError(f"version must be one of {', '.join(VERSIONS)} (in its own namespace)",
                       "InvalidParameterValue", "version")
    return version


def _srs(value: str, locator: str) -> str:
    """`value` as a srsName PostGIS reads with the axis order the name means (urn and http URIs: the CRS's own
    order, north first for EPSG:4490/4326/4544; `EPSG:n`: x/y); only codes of CITYGIS_OGC_SRS."""
    text = value.strip().lower()
    if text in _CRS84:
        return "EPSG:4326"
    for prefix in _SRS_PREFIXES:
        if text.startswith(prefix) and text[len(prefix):].isdigit() and len(text) - len(prefix) < 7:
            code = int(text[len(prefix):])
            break
    else:
        raise WFSError(f"srsName {value[:80]!r} is not an EPSG CRS name", "InvalidParameterValue", locator)
    if f"EPSG:{code}" not in settings.CITYGIS_OGC_SRS:
        raise WFSError(f"srsName EPSG:{code} is not offered; use one of {', '.join(settings.CITYGIS_OGC_SRS)}",
                       "InvalidParameterValue", locator)
    north_first = prefix.startswith(("urn:", "http://www.opengis.net/def/"))
    return f"urn:ogc:def:crs:EPSG::{code}" if north_first else f"EPSG:{code}"


def _geometry(element: etree._Element, default_srs: str, locator: str) -> etree._Element:
    """The one GML geometry inside a property element, as its own document with its srsName(s) normalised."""
    children = _elements(element)
    if len(children) != 1 or _ns(children[0]) not in (GML, GML32):
        raise WFSError("a geometry property holds one GML geometry", "InvalidParameterValue", locator)
    geometry = etree.fromstring(etree.tostring(children[0]), safexml.PARSER)  # namespace declarations come along
    if geometry.get("srsName") is None:
        geometry.set("srsName", default_srs)
    names = set()
    for e in geometry.iter():
        if isinstance(e.tag, str) and e.get("srsName") is not None:
            e.set("srsName", _srs(e.get("srsName"), f"{locator}/srsName"))
            names.add(e.get("srsName"))
    if len(names) > 1:
        raise WFSError("the parts of one geometry name different srsNames", "InvalidParameterValue",
                       f"{locator}/srsName")
    return geometry


def _value(element: etree._Element | None, default_srs: str, locator: str) -> Any:
    """A property value: None (absent or xsi:nil), a GML geometry (its own document) or the text."""
    if element is None or element.get(XSI_NIL) in ("true", "1"):
        return None
    if _elements(element):
        return _geometry(element, default_srs, locator)
    return element.text or ""


def _ids(filter_element: etree._Element | None, type_name: str, locator: str) -> list[int]:
    """Feature ids of an id filter (`<type>.<id>` as GetFeature writes them, or the bare id) of `type_name`."""
    where = f"{locator}/Filter"
    if filter_element is None:
        raise WFSError("a Filter selecting features by id is required", "MissingParameterValue", where)
    out: list[int] = []
    for child in _elements(filter_element):
        name, ns = _local(child), _ns(child)
        if ns == OGC and name == "FeatureId":
            text = child.get("fid")
        elif ns == OGC and name == "GmlObjectId":
            text = child.get(f"{{{GML}}}id") or child.get("id")
        elif ns == FES and name == "ResourceId":
            text = child.get("rid")
        else:
            raise WFSError(f"only feature id filters are supported (ogc:FeatureId, ogc:GmlObjectId, "
                           f"fes:ResourceId), not {name[:40]}", "InvalidParameterValue", f"{where}/{name[:40]}")
        layer, dot, fid = (text or "").strip().rpartition(".")
        if (dot and bare_name(layer) != type_name) or not (fid.isascii() and fid.isdigit()) or len(fid) > 18:
            raise WFSError(f"feature id {(text or '')[:80]!r} is not one of {type_name} (<type name>.<id>)",
                           "InvalidParameterValue", f"{where}/{name}")
        out.append(int(fid))
    if not out:
        raise WFSError("a Filter selecting features by id is required", "MissingParameterValue", where)
    return out


def _properties(feature: etree._Element, srs: str, where: str) -> dict[str, Any]:
    """An inserted feature's properties by local name (GML's own boundedBy/name/description skipped)."""
    props: dict[str, Any] = {}
    for prop in _elements(feature):
        if _ns(prop) in (GML, GML32):
            continue
        key = _local(prop)
        if key in props:
            raise WFSError(f"{key[:40]} is given twice", "InvalidParameterValue", f"{where}/{key[:40]}")
        props[key] = _value(prop, srs, f"{where}/{key[:40]}")
    return props


def _updates(element: etree._Element, wfs_ns: str, version: str, srs: str, locator: str) -> dict[str, Any]:
    """An Update's Property list: {name → value} (no Value: null)."""
    props: dict[str, Any] = {}
    name_tag = f"{{{wfs_ns}}}{'ValueReference' if version == '2.0.0' else 'Name'}"
    for prop in element.iterchildren(f"{{{wfs_ns}}}Property"):
        key_element = prop.find(name_tag)
        key = bare_name(key_element.text or "") if key_element is not None else ""
        if not key:
            raise WFSError("a Property without its name", "MissingParameterValue", f"{locator}/Property")
        if key in props:
            raise WFSError(f"{key[:40]} is given twice", "InvalidParameterValue", f"{locator}/{key[:40]}")
        props[key] = _value(prop.find(f"{{{wfs_ns}}}Value"), srs, f"{locator}/{key[:40]}")
    if not props:
        raise WFSError("the Update names no Property", "MissingParameterValue", f"{locator}/Property")
    return props


def parse_transaction(root: etree._Element, version: str) -> list[Action]:
    """The actions of a Transaction, with raw values (no database yet), at most max_features() features."""
    wfs_ns = VERSIONS[version]
    default_srs = "EPSG:4490" if version == "1.0.0" else "urn:ogc:def:crs:EPSG::4490"
    actions: list[Action] = []
    seen = dict.fromkeys(ACTIONS, 0)
    total = 0
    for element in _elements(root):
        name = _local(element)
        if name in REFUSED_ACTIONS:
            raise WFSError(REFUSED_ACTIONS[name], "OperationNotSupported", name)
        if name not in ACTIONS or _ns(element) != wfs_ns:
            raise WFSError(f"unknown action {name[:40]!r}: Insert, Update or Delete", "InvalidParameterValue",
                           name[:40])
        seen[name] += 1
        locator = xml_text(element.get("handle") or f"{name}[{seen[name]}]")[:100]
        if name == "Insert":
            if element.get("idgen", "GenerateNew") != "GenerateNew":
                raise WFSError("idgen must be GenerateNew: the server assigns ids", "InvalidParameterValue",
                               f"{locator}/idgen")
            srs = element.get("srsName") or default_srs
            features = _elements(element)
            if not features:
                raise WFSError("the Insert holds no feature", "MissingParameterValue", locator)
            for number, feature in enumerate(features, 1):
                where = locator if len(features) == 1 else f"{locator}/{_local(feature)[:60]}[{number}]"
                actions.append(Action("Insert", where, bare_name(_local(feature)), len(actions),
                                      [_properties(feature, srs, where)]))
            total += len(features)
        else:
            type_value = element.get("typeName")
            if not type_value:
                raise WFSError("typeName is missing", "MissingParameterValue", f"{locator}/typeName")
            type_name = bare_name(type_value)
            filter_element = next((c for c in _elements(element) if _local(c) == "Filter" and _ns(c) in (OGC, FES)),
                                  None)
            ids = _ids(filter_element, type_name, locator)
            if name == "Update":
                props = _updates(element, wfs_ns, version, default_srs, locator)
                actions.append(Action(name, locator, type_name, len(actions), [(fid, props) for fid in ids]))
            else:
                actions.append(Action(name, locator, type_name, len(actions), list(ids)))
            total += len(ids)
        if total > max_features():
            raise WFSError(f"a Transaction inserts, updates and deletes at most {max_features()} features; "
                           "commit in smaller parts", "InvalidParameterValue", locator)
    if not actions:
        raise WFSError("the Transaction holds no action", "MissingParameterValue", "Transaction")
    return actions


# ------------------------------------------------------------------------------------------------ conversion


def _to_geojson(geometries: list[tuple[etree._Element, str]]) -> list[dict[str, Any]]:
    """GML → GeoJSON geometries in EPSG:4490 lon/lat by PostGIS (ST_GeomFromGML reads srsName and its axis
    order, ST_Transform), one statement for all; when PostGIS refuses one, the first refused is named."""
    texts = [etree.tostring(g, encoding="unicode") for g, _where in geometries]
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromGML(g), 4490), 9) "
                        "FROM unnest(%s::text[]) WITH ORDINALITY AS t(g, n) ORDER BY n", [texts])
            return [json.loads(row[0]) for row in cur.fetchall()]
    except DatabaseError:
        pass
    for text, (_g, where) in zip(texts, geometries, strict=True):
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromGML(%s), 4490), 9)", [text])
        except DatabaseError as exc:
            message = str(exc).splitlines()[0][:160] if str(exc) else "invalid GML"
            raise WFSError(f"the GML geometry could not be read: {message}", "InvalidParameterValue",
                           where) from None
    raise WFSError("the GML geometries could not be read", "InvalidParameterValue", "Transaction")


def _typed(value: Any, prop: colls.Property | None, generic: bool) -> Any:
    """A property's text as the collection's type needs it where XML's spelling is not Python's (booleans
    `true`/`false`), and numbers for a generic layer's number keys; typed fields convert the rest themselves."""
    if not isinstance(value, str) or prop is None:
        return value
    text = value.strip()
    if prop.type == "boolean":
        return {"true": True, "1": True, "false": False, "0": False}.get(text.lower(), value)
    if generic and prop.type in ("integer", "number") and text:
        try:
            return int(text) if prop.type == "integer" else float(text)
        except ValueError:
            return value  # a generic layer takes any scalar: the text stays text
    return value


def _attribute_object(value: Any, locator: str) -> dict[str, Any]:
    """A generic layer's `attributes` property (WFS publishes the JSONB column as JSON text): its object."""
    if value is None or not str(value).strip():
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        raise WFSError("attributes: a JSON object of the feature's attributes is required", "InvalidParameterValue",
                       locator) from None
    if not isinstance(parsed, dict):
        raise WFSError("attributes: a JSON object of the feature's attributes is required", "InvalidParameterValue",
                       locator)
    return parsed


def _layers(actions: list[Action], user) -> dict[str, Layer]:
    """{type name → layer} of every type the actions touch: a feature type the user reads (the WFS read rule)
    and a collection the user may write (the OGC API write rule: layers.access.can_write, versioned)."""
    out: dict[str, Layer] = {}
    known = feature_types()
    for action in actions:
        if action.type_name in out:
            continue
        locator = f"{action.locator}/typeName"
        if action.type_name not in known:
            raise WFSError(f"unknown feature type {action.type_name[:80]!r}", "InvalidParameterValue", locator)
        check_access([action.type_name], user, locator)
        try:
            out[action.type_name] = writes.writable_collection(user, action.type_name)
        except Problem as problem:
            read_only = problem.status == 405
            raise WFSError(problem.detail, "OperationNotSupported" if read_only else "InvalidParameterValue",
                           locator, status=403 if problem.status in (401, 403, 405) else 400) from None
    return out


def build_edits(actions: list[Action], user) -> dict[str, Layer]:
    """Fill every action's `edits` (apply_edits' form, through the OGC API's member checks) and `members`;
    {type name → layer}."""
    layers = _layers(actions, user)
    geometries: list[tuple[etree._Element, str]] = []
    features: list[tuple[Action, int, dict[str, Any], str]] = []  # (action, index, GeoJSON-like feature, where)
    for action in actions:
        schema = colls.schema(layers[action.type_name])
        if action.kind == "Delete":
            action.edits = [{"op": "delete", "id": fid} for fid in action.raw]
            action.members = [{"": action.locator, "id": f"{action.locator}/Filter"} for _fid in action.raw]
            continue
        for index, entry in enumerate(action.raw):
            props = entry if action.kind == "Insert" else entry[1]
            where = action.locator
            data: dict[str, Any] = {"type": "Feature", "properties": {}}
            whole: dict[str, Any] | None = None  # a generic layer's attribute set sent as one JSON object
            for key, value in props.items():
                generic_column = schema.generic and key not in schema.properties
                if key == schema.geom_column:
                    if not isinstance(value, etree._Element):
                        raise WFSError(f"{key}: a GML geometry is required", "InvalidParameterValue",
                                       f"{where}/{key}")
                    geometries.append((value, f"{where}/{key}"))
                    data["geometry"] = len(geometries) - 1  # replaced by the GeoJSON below
                elif isinstance(value, etree._Element):
                    raise WFSError(f"{key[:40]}: a text value is required", "InvalidParameterValue",
                                   f"{where}/{key[:40]}")
                elif key == schema.id_column and action.kind == "Insert":
                    continue  # idgen GenerateNew: the server assigns the id
                elif generic_column and key == GENERIC_ATTRIBUTES:
                    whole = _attribute_object(value, f"{where}/{key}")
                elif generic_column and key in GENERIC_SERVER_COLUMNS:
                    if action.kind == "Insert":
                        continue  # kept by the server (a copied feature brings them along)
                    raise WFSError(f"{key} is kept by the server", "InvalidParameterValue", f"{where}/{key}")
                else:
                    data["properties"][key] = _typed(value, schema.properties.get(key), schema.generic)
            if whole is not None:  # the object is the feature's new attribute set; single keys given beside it win
                data["properties"] = {**whole, **data["properties"]}
                data["replace"] = action.kind == "Update"
            features.append((action, index, data, where))
    converted = _to_geojson(geometries) if geometries else []
    for action, index, data, where in features:
        schema = colls.schema(layers[action.type_name])
        if "geometry" in data:
            data["geometry"] = converted[data["geometry"]]
        fid = action.raw[index][0] if action.kind == "Update" else None
        replace = data.pop("replace", False)
        if fid is not None and not data["properties"] and not replace:
            del data["properties"]  # a geometry-only Update leaves the attributes alone
        try:
            edit = writes.feature_edit(data, schema, fid, partial=fid is not None)
        except Problem as problem:
            member = problem.parameter.removeprefix("properties.")
            member = schema.geom_column if member == "geometry" else member
            raise WFSError(problem.detail, "InvalidParameterValue", f"{where}/{member}" if member else where) \
                from None
        if fid is None:
            action.edits.append({"op": "insert", **edit})
        else:
            action.edits.append({"op": "update", "id": fid, **edit, **({"replace": True} if replace else {})})
        members = {"": where, "geometry": f"{where}/{schema.geom_column}"}
        if fid is not None:
            members["id"] = f"{where}/Filter"
        action.members.append(members)
    return layers


# ------------------------------------------------------------------------------------------------ writing


@dataclass
class Result:
    """What a Transaction did: new ids in request order, counts, the version written per layer."""

    inserted: list[str] = field(default_factory=list)  # `<type>.<id>`, as GetFeature names features
    updated: int = 0
    deleted: int = 0
    versions: dict[str, int] = field(default_factory=dict)


def _locator(members: list[dict[str, str]], exc: VersionError) -> str:
    """The WFS locator of an apply_edits error (`edits[3].properties.code` → `Update[1]/code`)."""
    text = exc.field or ""
    if not text.startswith("edits["):
        return members[0][""] if members else "Transaction"
    index, _, member = text[len("edits["):].partition("]")
    try:
        names = members[int(index)]
    except (ValueError, IndexError):
        return "Transaction"
    member = member.lstrip(".")
    if member.startswith("properties."):
        return f"{names['']}/{member.removeprefix('properties.')}"
    return names.get(member, names[""])


def execute(actions: list[Action], layers: dict[str, Layer], user, comment: str) -> Result:
    """Each layer's edits (in request order) as one edit session = one LayerVersion, all layers in one database
    transaction: any refused edit leaves every layer as it was. Layers are locked in name order (no deadlock
    between two Transactions over the same layers)."""
    result = Result()
    inserted: list[tuple[int, int, str]] = []  # (action order, index, fid)
    with transaction.atomic():
        for name in sorted(layers):
            layer = layers[name]
            mine = [a for a in actions if a.type_name == name]
            edits = [e for a in mine for e in a.edits]
            members = [m for a in mine for m in a.members]
            lock_layer(layer)
            above = max_feature_id(layer)  # new rows get ids above it (sequences only grow)
            try:
                version = apply_edits(layer, user, edits, comment)
            except PermissionError as exc:
                raise WFSError(str(exc), "InvalidParameterValue", f"{mine[0].locator}/typeName", status=403) \
                    from None
            except VersionError as exc:
                raise WFSError(str(exc), "InvalidParameterValue", _locator(members, exc)) from None
            new_ids = iter(FeatureHistory.objects.filter(layer=layer, valid_from=version.number,
                                                         feature_id__gt=above)
                           .order_by("feature_id").values_list("feature_id", flat=True))
            for action in mine:
                for index, edit in enumerate(action.edits):
                    if edit["op"] == "insert":
                        fid = next(new_ids, None)
                        if fid is None:  # the row is not the layer's (a source filter it does not match)
                            raise WFSError(f"the inserted feature is not part of {name}: its attributes do not "
                                           "match the layer's definition", "InvalidParameterValue", action.locator)
                        inserted.append((action.order, index, f"{name}.{fid}"))
            result.updated += sum(1 for e in edits if e["op"] == "update")
            result.deleted += sum(1 for e in edits if e["op"] == "delete")
            result.versions[name] = version.number
    result.inserted = [fid for _order, _index, fid in sorted(inserted)]
    return result


# ------------------------------------------------------------------------------------------------ answers


def transaction_response(result: Result, version: str, handle: str) -> bytes:
    """The success document QGIS (and OWSLib, GDAL) read for `version`."""
    if version == "1.0.0":
        root = etree.Element(f"{{{WFS}}}WFS_TransactionResponse", version="1.0.0", nsmap={"wfs": WFS, "ogc": OGC})
        if result.inserted:
            insert = etree.SubElement(root, f"{{{WFS}}}InsertResult")
            for fid in result.inserted:
                etree.SubElement(insert, f"{{{OGC}}}FeatureId", fid=fid)
        status = etree.SubElement(etree.SubElement(root, f"{{{WFS}}}TransactionResult", **(
            {"handle": handle} if handle else {})), f"{{{WFS}}}Status")
        etree.SubElement(status, f"{{{WFS}}}SUCCESS")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    ns = VERSIONS[version]
    nsmap = {"wfs": ns, "fes": FES} if version == "2.0.0" else {"wfs": ns, "ogc": OGC}
    root = etree.Element(f"{{{ns}}}TransactionResponse", version=version, nsmap=nsmap)
    summary = etree.SubElement(root, f"{{{ns}}}TransactionSummary")
    totals = [("totalInserted", len(result.inserted)), ("totalUpdated", result.updated)]
    if version == "2.0.0":
        totals.append(("totalReplaced", 0))
    totals.append(("totalDeleted", result.deleted))
    for name, value in totals:
        etree.SubElement(summary, f"{{{ns}}}{name}").text = str(value)
    if result.inserted:
        inserted = etree.SubElement(root, f"{{{ns}}}InsertResults")
        for fid in result.inserted:
            feature = etree.SubElement(inserted, f"{{{ns}}}Feature")
            if version == "2.0.0":
                etree.SubElement(feature, f"{{{FES}}}ResourceId", rid=fid)
            else:
                etree.SubElement(feature, f"{{{OGC}}}FeatureId", fid=fid)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _read_body(request: HttpRequest) -> bytes:
    media = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if media not in BODY_TYPES:
        raise WFSError(f"Content-Type must be one of {', '.join(BODY_TYPES)}", "InvalidParameterValue",
                       "Content-Type", status=415)
    try:
        raw = safexml.read_body(request, max_body())
    except safexml.Refused as refusal:
        raise _refused(refusal) from None
    if not raw.strip():
        raise WFSError("the body is empty; POST a wfs:Transaction", "MissingParameterValue", "body")
    return raw


def _guess_version(raw: bytes) -> str:
    """The version the error report is written for before the body is understood (2.0.0 namespace → 2.0.0)."""
    return "2.0.0" if WFS20.encode() in raw[:2000] else "1.1.0"


def serve_transaction(request: HttpRequest) -> tuple[HttpResponse, Any]:
    """Answer one POSTed Transaction; (response, the user it was computed for, None before authentication)."""
    try:
        request.get_host()  # ALLOWED_HOSTS (Django's middleware already checked it on this path)
    except DisallowedHost:
        return exception_report("Host header not allowed", "InvalidParameterValue", "Host", version="1.1.0"), None
    media = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    try:
        # Basic (QGIS's authentication database) only with an XML body: the CSRF defence (write_user)
        user = writes.write_user(request, allow_basic=media in BODY_TYPES)
    except Problem as problem:
        response = exception_report(xml_text(problem.detail), "Unauthorized" if problem.status == 401 else
                                    "InvalidParameterValue", problem.parameter, version="1.1.0",
                                    status=problem.status)
        if problem.status == 401:  # never the Basic challenge: a browser would answer it with cached passwords
            response["WWW-Authenticate"] = writes.TOKEN_CHALLENGE
        return response, None
    retry = limits.throttle(request, user)
    if retry is not None:
        response = exception_report("too many requests; slow down", "RequestLimitExceeded", version="1.1.0",
                                    status=429)
        response["Retry-After"] = str(retry)
        return response, user
    version = "1.1.0"
    try:
        raw = _read_body(request)
        version = _guess_version(raw)
        root = parse_body(raw)
        version = _version(root)
        freshness.ensure_current()  # the feature types of the registry as it is now
        actions = parse_transaction(root, version)
        handle = xml_text(root.get("handle") or "")
        layers = build_edits(actions, user)
        result = execute(actions, layers, user, (handle or _("WFS-T 事务"))[:MAX_COMMENT])
    except WFSError as exc:
        return exception_report(xml_text(exc), exc.code, xml_text(exc.locator), version=version,
                                status=exc.status), user
    log.info("WFS-T by user %s: %s inserted, %s updated, %s deleted (versions %s)", user.pk, len(result.inserted),
             result.updated, result.deleted, result.versions)
    return HttpResponse(transaction_response(result, version, handle),
                        content_type="text/xml; charset=utf-8"), user
