"""Catalogue records of registry layers: what a record says (built from the Layer row, the one source) and its
two encodings, Dublin Core (csw:Record / SummaryRecord / BriefRecord) and ISO 19139 (gmd:MD_Metadata).

Every text goes into the XML through lxml (escaped by the serializer; characters XML 1.0 forbids dropped by
city_gis.text_limits.xml_text): never string concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone
from lxml import etree

from city_gis.text_limits import xml_text
from layers.models import Layer, LayerKind, Theme

CSW = "http://www.opengis.net/cat/csw/2.0.2"
DC = "http://purl.org/dc/elements/1.1/"
DCT = "http://purl.org/dc/terms/"
OWS = "http://www.opengis.net/ows"
OGC = "http://www.opengis.net/ogc"
GMD = "http://www.isotc211.org/2005/gmd"
GCO = "http://www.isotc211.org/2005/gco"
GML = "http://www.opengis.net/gml"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
NSMAP = {"csw": CSW, "dc": DC, "dct": DCT, "ows": OWS, "ogc": OGC, "gmd": GMD, "gco": GCO, "gml": GML,
         "xsi": XSI}

DATASET = "dataset"
# ISO 19115 topic categories of the registry's themes.
TOPIC = {
    Theme.BASE: "boundaries", Theme.LAND: "planningCadastre", Theme.PLANNING: "planningCadastre",
    Theme.HOUSING: "society", Theme.DISASTER: "geoscientificInformation", Theme.GRID: "boundaries",
    Theme.CASES: "society", Theme.EVALUATION: "society", Theme.RASTER: "elevation",
}
# Layer.update_frequency values are ISO 19115 MD_MaintenanceFrequencyCode values already.
CODELISTS = "http://standards.iso.org/iso/19139/resources/gmxCodelists.xml"


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


@dataclass(frozen=True)
class Link:
    url: str
    protocol: str  # OGC:WMS, OGC:WFS, OGC:WMTS, OGC:API-Features, WWW:DOWNLOAD-1.0-http--download
    name: str
    description: str


@dataclass
class Record:
    """One catalogue record: a registry layer as the catalogue describes it."""

    identifier: str
    title: str
    title_en: str
    abstract: str
    keywords: list[str]
    theme: str
    theme_label: str
    owner: str
    kind: str
    modified: datetime
    bbox: tuple[float, float, float, float] | None  # lon/lat, EPSG:4490 (≈ WGS 84 at catalogue precision)
    crs: list[str]
    update_frequency: str
    links: list[Link] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        return [*self.keywords, self.theme_label]

    @property
    def formats(self) -> list[str]:
        return ["image/png", "application/geopackage+sqlite3", "application/geo+json"] \
            if self.kind == LayerKind.VECTOR else ["image/png", "image/tiff"]

    @property
    def anytext(self) -> str:
        """What csw:AnyText searches: every text of the record."""
        return " ".join([self.identifier, self.title, self.title_en, self.abstract, *self.subjects, self.owner,
                         self.theme])

    @property
    def modified_text(self) -> str:
        return timezone.localtime(self.modified).isoformat(timespec="seconds")

    def properties(self) -> dict[str, object]:
        """Queryable name (lower case, no prefix) → value(s) for constraint evaluation (see filters.QUERYABLES)."""
        return {
            "anytext": self.anytext, "title": [self.title, self.title_en], "abstract": self.abstract,
            "subject": self.subjects, "identifier": self.identifier, "type": DATASET, "format": self.formats,
            "modified": self.modified_text, "creator": self.owner, "publisher": self.owner,
            "organisationname": self.owner, "boundingbox": self.bbox, "crs": self.crs,
            "topiccategory": TOPIC.get(self.theme, "society"),
        }


def layer_links(layer: Layer, base: str) -> list[Link]:
    """The services a layer is published through (URLs on this host, `base` without a trailing slash)."""
    name, title = layer.name, layer.title_zh
    links = [Link(f"{base}/ows", "OGC:WMS", name, f"WMS 1.3.0 / 1.1.1: {title}"),
             Link(f"{base}/wmts/1.0.0/WMTSCapabilities.xml", "OGC:WMTS", name, f"WMTS: {title}")]
    if layer.kind == LayerKind.VECTOR:
        quoted = quote(name, safe="")
        links += [
            Link(f"{base}/ows?SERVICE=WFS", "OGC:WFS", f"ms:{name}", f"WFS 2.0.0: {title}"),
            Link(f"{base}/ogcapi/collections/{quoted}", "OGC:API-Features", name, f"OGC API - Features: {title}"),
            Link(f"{base}/api/v1/layers/{quoted}/export/?format=gpkg", "WWW:DOWNLOAD-1.0-http--download",
                 f"{name}.gpkg", "GeoPackage"),
            Link(f"{base}/api/v1/layers/{quoted}/export/?format=geojson", "WWW:DOWNLOAD-1.0-http--download",
                 f"{name}.geojson", "GeoJSON"),
        ]
    return links


_UNSET: Any = object()


def layer_record(layer: Layer, base: str, bbox: Any = _UNSET) -> Record:
    """The record of one registry layer (owner pre-fetched by the caller; `bbox` when the caller has the
    extent's box already, else Layer.bbox)."""
    return Record(
        identifier=layer.name, title=layer.title_zh, title_en=layer.title_en, abstract=layer.abstract,
        keywords=list(layer.keywords or []), theme=layer.theme, theme_label=str(Theme(layer.theme).label),
        owner=layer.owner.name_zh, kind=layer.kind, modified=layer.last_update or layer.updated_at,
        bbox=layer.bbox if bbox is _UNSET else bbox, crs=list(settings.CITYGIS_OGC_SRS), update_frequency=layer.update_frequency,
        links=layer_links(layer, base),
    )


# --- Dublin Core ---------------------------------------------------------------------------------------------


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, q(ns, tag), {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _ows_bbox(parent: etree._Element, bbox: tuple[float, float, float, float]) -> None:
    # CRS84 keeps lon/lat order; EPSG:4490 coordinates are within a metre of WGS 84 here.
    box = _sub(parent, OWS, "BoundingBox", crs="urn:ogc:def:crs:OGC:1.3:CRS84")
    _sub(box, OWS, "LowerCorner", f"{bbox[0]:.6f} {bbox[1]:.6f}")
    _sub(box, OWS, "UpperCorner", f"{bbox[2]:.6f} {bbox[3]:.6f}")


def dublin_core(record: Record, element_set: str) -> etree._Element:
    """csw:BriefRecord (brief), csw:SummaryRecord (summary) or csw:Record (full)."""
    tag = {"brief": "BriefRecord", "summary": "SummaryRecord", "full": "Record"}[element_set]
    root = etree.Element(q(CSW, tag), nsmap={"csw": CSW, "dc": DC, "dct": DCT, "ows": OWS})
    _sub(root, DC, "identifier", record.identifier)
    _sub(root, DC, "title", record.title)
    if record.title_en and element_set == "full":
        _sub(root, DCT, "alternative", record.title_en)
    _sub(root, DC, "type", DATASET)
    if element_set != "brief":
        for subject in record.subjects:
            _sub(root, DC, "subject", subject)
        for fmt in record.formats:
            _sub(root, DC, "format", fmt)
        _sub(root, DCT, "modified", record.modified_text)
        _sub(root, DCT, "abstract", record.abstract)
    if element_set == "full":
        _sub(root, DC, "creator", record.owner)
        _sub(root, DC, "publisher", record.owner)
        _sub(root, DC, "language", "zh-CN")
        _sub(root, DCT, "accrualPeriodicity", record.update_frequency)
        for crs in record.crs:
            _sub(root, DCT, "spatial", crs, scheme="EPSG")
        for link in record.links:
            _sub(root, DCT, "references", link.url, scheme=link.protocol)
    if record.bbox:
        _ows_bbox(root, record.bbox)
    return root


# --- ISO 19139 -----------------------------------------------------------------------------------------------


def _cs(parent: etree._Element, ns: str, tag: str, text: str) -> etree._Element:
    """<ns:tag><gco:CharacterString>text</gco:CharacterString></ns:tag>"""
    element = _sub(parent, ns, tag)
    _sub(element, GCO, "CharacterString", text)
    return element


def _code(parent: etree._Element, tag: str, codelist: str, value: str) -> None:
    wrapper = _sub(parent, GMD, tag)
    _sub(wrapper, GMD, codelist, value, codeList=f"{CODELISTS}#{codelist}", codeListValue=value)


def _party(parent: etree._Element, tag: str, organisation: str) -> None:
    party = _sub(_sub(parent, GMD, tag), GMD, "CI_ResponsibleParty")
    _cs(party, GMD, "organisationName", organisation)
    _code(party, "role", "CI_RoleCode", "pointOfContact")


def iso19139(record: Record, element_set: str) -> etree._Element:
    """gmd:MD_Metadata of a record (brief: identification and extent; summary/full: everything)."""
    root = etree.Element(q(GMD, "MD_Metadata"), nsmap={"gmd": GMD, "gco": GCO, "gml": GML, "xsi": XSI})
    _cs(root, GMD, "fileIdentifier", record.identifier)
    lang = _sub(root, GMD, "language")
    _sub(lang, GMD, "LanguageCode", "chi", codeList=f"{CODELISTS}#LanguageCode", codeListValue="chi")
    _code(root, "characterSet", "MD_CharacterSetCode", "utf8")
    _code(root, "hierarchyLevel", "MD_ScopeCode", DATASET)
    full = element_set != "brief"
    if full:
        _party(root, "contact", record.owner)
    _sub(_sub(root, GMD, "dateStamp"), GCO, "DateTime", record.modified_text)
    if full:
        for crs in record.crs:
            identifier = _sub(_sub(_sub(_sub(root, GMD, "referenceSystemInfo"), GMD, "MD_ReferenceSystem"),
                                   GMD, "referenceSystemIdentifier"), GMD, "RS_Identifier")
            _cs(identifier, GMD, "code", crs)
            _cs(identifier, GMD, "codeSpace", "EPSG")
    ident = _sub(_sub(root, GMD, "identificationInfo"), GMD, "MD_DataIdentification")
    citation = _sub(_sub(ident, GMD, "citation"), GMD, "CI_Citation")
    _cs(citation, GMD, "title", record.title)
    if record.title_en:
        _cs(citation, GMD, "alternateTitle", record.title_en)
    date = _sub(_sub(citation, GMD, "date"), GMD, "CI_Date")
    _sub(_sub(date, GMD, "date"), GCO, "DateTime", record.modified_text)
    _code(date, "dateType", "CI_DateTypeCode", "revision")
    _cs(ident, GMD, "abstract", record.abstract)
    if full:
        _party(ident, "pointOfContact", record.owner)
        maintenance = _sub(_sub(ident, GMD, "resourceMaintenance"), GMD, "MD_MaintenanceInformation")
        _code(maintenance, "maintenanceAndUpdateFrequency", "MD_MaintenanceFrequencyCode", record.update_frequency)
        keywords = _sub(_sub(ident, GMD, "descriptiveKeywords"), GMD, "MD_Keywords")
        for keyword in record.subjects:
            _cs(keywords, GMD, "keyword", keyword)
        _code(keywords, "type", "MD_KeywordTypeCode", "theme")
        lang = _sub(ident, GMD, "language")
        _sub(lang, GMD, "LanguageCode", "chi", codeList=f"{CODELISTS}#LanguageCode", codeListValue="chi")
        _sub(_sub(ident, GMD, "topicCategory"), GMD, "MD_TopicCategoryCode", TOPIC.get(record.theme, "society"))
    if record.bbox:
        box = _sub(_sub(_sub(_sub(ident, GMD, "extent"), GMD, "EX_Extent"), GMD, "geographicElement"),
                   GMD, "EX_GeographicBoundingBox")
        for tag, value in zip(("westBoundLongitude", "eastBoundLongitude", "southBoundLatitude",
                               "northBoundLatitude"), (record.bbox[0], record.bbox[2], record.bbox[1], record.bbox[3]),
                              strict=True):
            _sub(_sub(box, GMD, tag), GCO, "Decimal", f"{value:.6f}")
    if full:
        transfer = _sub(_sub(_sub(_sub(root, GMD, "distributionInfo"), GMD, "MD_Distribution"),
                             GMD, "transferOptions"), GMD, "MD_DigitalTransferOptions")
        for link in record.links:
            online = _sub(_sub(transfer, GMD, "onLine"), GMD, "CI_OnlineResource")
            _sub(_sub(online, GMD, "linkage"), GMD, "URL", link.url)
            _cs(online, GMD, "protocol", link.protocol)
            _cs(online, GMD, "name", link.name)
            _cs(online, GMD, "description", link.description)
    return root
