"""WFS 2.0.0 / 1.1.0 at `/ows?SERVICE=WFS`: MapServer's WFS on the generated mapfile, behind our access policy.

Why MapServer: the generated mapfile already holds every vector layer of the registry (PostGIS DATA with
`using unique`, extents, titles), so WFS is a few metadata entries away, with FES filters, paging, hits, GML
3.2/3.1/2 and GeoJSON, and the axis order of each version handled by MapServer (see docs/wfs.md for the
measurements behind the choice).

What this module adds around `mapserv` (run as a CGI subprocess, one per request, like MapProxy runs it for WMS):
- access: every feature type a request names (TYPENAME(S), or the layer part of RESOURCEID/FEATUREID/ID) must be
  readable by the user (tileserver.auth.readable_layer_names, the one policy of WMS and the REST API); else
  401 + Basic challenge (anonymous) / 403. Capabilities list only readable feature types; DescribeFeatureType
  without a type name describes the readable ones only.
- input: only the three read operations; only known WFS parameters reach mapserv (no `map=`, no runtime
  substitution); COUNT/MAXFEATURES capped at CITYGIS_WFS_MAX_FEATURES; malformed numbers are a 400.
- cost: a render slot (tileserver.limits), CITYGIS_MAPSERV_TIMEOUT seconds, at most CITYGIS_WFS_MAX_BYTES of
  output (the child's file-size limit: memory stays bounded whatever the client asks).
- writes: Transaction is POSTed XML, answered by tileserver/wfst.py (WFS-T); 1.1.0 capabilities advertise it for
  the feature types the user may write.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import signal
import subprocess
import tempfile
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape, unescape

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from lxml import etree

from . import limits
from .auth import readable_layer_names
from .mapfile import WFS_ONLINE_PLACEHOLDER, WFS_TYPES_NAME, wfs_max_features
from .paths import config_paths

log = logging.getLogger(__name__)

VERSIONS = ("2.0.0", "1.1.0", "1.0.0")
REQUESTS = {"getcapabilities": "GetCapabilities", "describefeaturetype": "DescribeFeatureType",
            "getfeature": "GetFeature"}
GET_FEATURE_BY_ID = "urn:ogc:def:query:OGC-WFS::GetFeatureById"
# Parameters forwarded to mapserv (lower case); anything else stays here (vendor parameters, `map`, tokens).
FORWARDED = frozenset({
    "service", "version", "acceptversions", "acceptformats", "sections", "updatesequence", "request",
    "typename", "typenames", "outputformat", "resulttype", "count", "maxfeatures", "startindex", "bbox",
    "srsname", "filter", "filter_language", "propertyname", "sortby", "resourceid", "featureid",
    "storedquery_id", "id", "namespace", "namespaces", "valuereference",
})
MAX_BYTES_DEFAULT = 100 * 1024 * 1024
_HEAD_BYTES = 8192  # where MapServer writes the online resource in a GetFeature answer (schemaLocation)
_NAME_SPLIT = re.compile(r"[\s,()]+")
_OWS = {"2.0.0": ("http://www.opengis.net/ows/1.1", "2.0.0"), "1.1.0": ("http://www.opengis.net/ows", "1.1.0")}
_types_cache: dict[str, tuple[float, frozenset[str]]] = {}
# MapServer's capabilities (before the per-user filtering) by (mapfile, its mtime, query): QGIS asks for them
# on every connection and each costs a mapserv run. Regeneration changes the mtime, so entries never go stale.
_capabilities_cache: dict[tuple[str, int, str], tuple[dict[str, str], bytes]] = {}
_CAPABILITIES_CACHE_SIZE = 32


class WFSError(Exception):
    """A request we answer with an OWS exception report (400 unless `status` says otherwise)."""

    def __init__(self, message: str, code: str, locator: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.code, self.locator, self.status = code, locator, status


def exception_report(message: str, code: str, locator: str = "", *, version: str = "2.0.0",
                     status: int = 400) -> HttpResponse:
    """An OWS ExceptionReport (OWS 1.1 for WFS 2.0.0, OWS 1.0 for 1.1.0/1.0.0)."""
    ns, ows_version = _OWS.get(version, _OWS["1.1.0"])
    loc = f' locator="{escape(locator, {chr(34): "&quot;"})}"' if locator else ""
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ows:ExceptionReport xmlns:ows="{ns}" version="{ows_version}"'
            f' xml:lang="en"><ows:Exception exceptionCode="{escape(code)}"{loc}><ows:ExceptionText>'
            f"{escape(message)}</ows:ExceptionText></ows:Exception></ows:ExceptionReport>")
    response = HttpResponse(body, status=status, content_type="application/xml; charset=utf-8")
    if status == 401:
        from .views import CHALLENGE  # views imports this module: resolved at call time

        response["WWW-Authenticate"] = CHALLENGE
    if status == 503:
        response["Retry-After"] = "5"
    return response


def feature_types() -> frozenset[str]:
    """Names of the feature types the current mapfile publishes (written by generate.py beside it)."""
    path = config_paths().mapfile_dir / WFS_TYPES_NAME
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return frozenset()
    hit = _types_cache.get(str(path))
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        names = frozenset(n for n in json.loads(path.read_text(encoding="utf-8")) if isinstance(n, str))
    except (OSError, ValueError):
        return frozenset()
    _types_cache[str(path)] = (mtime, names)
    return names


def bare_name(name: str) -> str:
    """A feature type name as the registry and the access policy know it: `ms:land.parcels` → `land.parcels`
    (namespace prefix dropped), lower case like the registry's names (MapServer matches any case). WFS reads and
    WFS-T writes compare type names only in this form."""
    return name.rpartition(":")[2].strip().lower()


def _names(value: str) -> list[str]:
    return [bare_name(n) for n in _NAME_SPLIT.split(value) if n.strip()]


def _layers_of_ids(value: str, locator: str) -> list[str]:
    """Feature ids are `<layer>.<id>` (gml_featureid): the layer is everything before the last dot."""
    names = []
    for fid in filter(None, (v.strip() for v in value.split(","))):
        layer, dot, _ = fid.rpartition(".")
        if not dot:
            raise WFSError(f"feature id {fid!r} is not of the form <type name>.<id>", "InvalidParameterValue",
                           locator)
        names.append(bare_name(layer))
    return names


def _non_negative(params: dict[str, str], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()):
        raise WFSError(f"{key.upper()} must be a non-negative integer", "InvalidParameterValue", key.upper())
    return int(value)


def check_access(names: list[str], user, locator: str) -> None:
    """Raise WFSError unless every feature type of `names` (bare names) exists and `user` may read it: an unknown
    name is a 400, a forbidden one a 401 for an anonymous user, else a 403. The one read check of WFS requests
    and of WFS-T writes (which also need the layer writable); `locator` names the offending parameter."""
    known = feature_types()
    for name in names:
        if name not in known:
            raise WFSError(f"unknown feature type {name!r}", "InvalidParameterValue", locator)
    readable = readable_layer_names(user)
    if any(name not in readable for name in names):
        anonymous = user is None or not user.is_authenticated
        raise WFSError("feature type not permitted" + (" without credentials" if anonymous else ""),
                       "Unauthorized" if anonymous else "InvalidParameterValue", locator,
                       status=401 if anonymous else 403)


def readable_feature_types(user) -> list[str]:
    """The feature types `user` may read, sorted."""
    return sorted(feature_types() & readable_layer_names(user))


def build_query(params: dict[str, str], user) -> tuple[str, str]:
    """(operation, mapserv QUERY_STRING) for a validated request; raises WFSError."""
    if "map" in params:
        raise WFSError("MAP is not a parameter of this service", "InvalidParameterValue", "MAP")
    if params.get("request", "").lower() == "transaction":  # writes: tileserver/wfst.py, by POST only
        raise WFSError("Transaction is a POST of a wfs:Transaction document; a GET never writes",
                       "OperationNotSupported", "REQUEST")
    operation = REQUESTS.get(params.get("request", "").lower())
    if not params.get("request"):
        raise WFSError("REQUEST is missing", "MissingParameterValue", "REQUEST")
    if operation is None:
        raise WFSError(f"REQUEST must be one of {', '.join(REQUESTS.values())}", "OperationNotSupported", "REQUEST")
    version = params.get("version")
    if version and version not in VERSIONS:
        raise WFSError(f"VERSION must be one of {', '.join(VERSIONS)}", "InvalidParameterValue", "VERSION")
    if operation != "GetCapabilities" and not version:
        raise WFSError("VERSION is missing", "MissingParameterValue", "VERSION")
    out = {k: v for k, v in params.items() if k in FORWARDED}
    out["service"] = "WFS"
    if "typenames" in params and "typename" in params:
        # QGIS 3.22 sends both (the same names). MapServer reads one or the other by version: two different
        # lists would let an unchecked one through, so only identical ones pass, as the version's own key.
        if _names(params["typenames"]) != _names(params["typename"]):
            raise WFSError("TYPENAMES and TYPENAME name different types", "InvalidParameterValue", "TYPENAME")
        keep = "typename" if version == "1.1.0" else "typenames"
        out.pop("typenames" if keep == "typename" else "typename", None)
        params = {k: v for k, v in params.items() if k != ("typenames" if keep == "typename" else "typename")}
    type_key = "typenames" if "typenames" in params else "typename"
    names = _names(params.get(type_key, ""))
    if operation == "DescribeFeatureType":
        if names:
            check_access(names, user, type_key.upper())
        else:  # "every type" means every type this user may read
            names = readable_feature_types(user)
            if not names:
                raise WFSError("no feature type is readable", "Unauthorized", type_key.upper(),
                               status=401 if not getattr(user, "is_authenticated", False) else 403)
        out[type_key] = ",".join(names)
    elif operation == "GetFeature":
        stored = params.get("storedquery_id")
        if stored is not None and stored != GET_FEATURE_BY_ID:
            raise WFSError(f"STOREDQUERY_ID must be {GET_FEATURE_BY_ID}", "InvalidParameterValue", "STOREDQUERY_ID")
        if stored is not None and not params.get("id"):
            raise WFSError("ID is missing", "MissingParameterValue", "ID")
        id_keys = [k for k in ("resourceid", "featureid", "id") if params.get(k)]
        for key in id_keys:  # every id parameter MapServer might read, not just the first
            check_access(_layers_of_ids(params[key], key.upper()), user, key.upper())
        if names:
            check_access(names, user, type_key.upper())
            out[type_key] = ",".join(names)
        elif not id_keys:
            raise WFSError("TYPENAMES is missing", "MissingParameterValue", "TYPENAMES")
        result_type = params.get("resulttype", "results").lower()
        if result_type not in ("results", "hits"):
            raise WFSError("RESULTTYPE must be results or hits", "InvalidParameterValue", "RESULTTYPE")
        _non_negative(params, "startindex")
        cap = wfs_max_features()
        count_key = "count" if (version or "2.0.0") == "2.0.0" else "maxfeatures"
        asked = [n for n in (_non_negative(params, "count"), _non_negative(params, "maxfeatures")) if n is not None]
        if result_type == "results":
            out.pop("count", None)
            out.pop("maxfeatures", None)
            out[count_key] = str(min([cap, *asked]))
    query = urlencode(out, quote_via=quote, safe=",:()")
    return operation, query + "&map=" + quote(str(config_paths().mapfile), safe="/")


def _limit_output(pid: int, max_bytes: int) -> None:
    """Cap the files mapserv writes (its stdout is a file): past `max_bytes` it gets SIGXFSZ. No core dump."""
    try:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
        resource.prlimit(pid, resource.RLIMIT_CORE, (0, 0))
    except (ProcessLookupError, PermissionError, OSError):
        pass  # already gone: its exit status tells


def run_mapserv(query: str) -> tuple[dict[str, str], bytes]:
    """Run mapserv on `query`; (CGI headers with lower-case names, body). Raises WFSError on time-out/size."""
    max_bytes = int(getattr(settings, "CITYGIS_WFS_MAX_BYTES", MAX_BYTES_DEFAULT))
    timeout = int(settings.CITYGIS_MAPSERV_TIMEOUT)
    env = {"MAPSERVER_CONFIG_FILE": str(config_paths().mapserver_config), "QUERY_STRING": query,
           "REQUEST_METHOD": "GET", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PG")})  # libpq: socket, service, password
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([limits.MAPSERV], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                cwd=str(config_paths().mapfile_dir))
        _limit_output(proc.pid, max_bytes + _HEAD_BYTES)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise WFSError(f"the request exceeded {timeout} s; narrow BBOX or lower COUNT", "OperationProcessingFailed",
                           status=503) from None
        if code == -signal.SIGXFSZ:
            raise WFSError(f"the response exceeds {max_bytes} bytes; lower COUNT and page with STARTINDEX",
                           "InvalidParameterValue", "COUNT")
        out.seek(0)
        raw = out.read()
        if code != 0 or not raw:
            err.seek(0)
            log.error("mapserv exited %s on %s: %s", code, query, err.read()[-2000:].decode("utf-8", "replace"))
            raise WFSError("the request could not be processed", "NoApplicableCode", status=503)
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    headers = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body


def _online_resource(request: HttpRequest) -> bytes:
    """This endpoint's URL as the client reached it (host validated by ALLOWED_HOSTS), XML-escaped."""
    return escape(request.build_absolute_uri(request.path) + "?").encode()


def filter_capabilities(body: bytes, readable: frozenset[str], online: bytes,
                        writable: frozenset[str] = frozenset()) -> bytes:
    """MapServer's capabilities with only the `readable` feature types; MetadataURLs (MapServer's GetMetadata,
    not served here) and MapServer's comments dropped; our online resource filled in; in 1.1.0, Transaction
    for the `writable` types (tileserver.wfst.advertise)."""
    parser = etree.XMLParser(remove_comments=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(body.replace(WFS_ONLINE_PLACEHOLDER.encode(), online), parser)
    for feature_type in list(root.iter("{*}FeatureType")):
        name = feature_type.findtext("{*}Name") or ""
        if bare_name(name) not in readable:
            feature_type.getparent().remove(feature_type)
    for element in list(root.iter("{*}MetadataURL")):
        element.getparent().remove(element)
    if writable:
        from .wfst import advertise  # wfst imports this module

        advertise(root, writable & readable, unescape(online.decode()))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


_BACKEND_ERROR = re.compile(rb"msPostGIS|Query error|Error executing|connection", re.I)


def _mapserver_exception(status: int, body: bytes) -> tuple[int, bytes] | None:
    """(status, body) when MapServer answered with an exception report: a client error (MapServer sets 400
    for the ones it recognises), with database details never passed on."""
    head = body[:1000]
    if b"ExceptionReport" not in head:
        return None
    if _BACKEND_ERROR.search(body[:4000]):
        log.warning("MapServer WFS backend error: %s", body[:2000].decode("utf-8", "replace"))
        return None  # answered by the caller with a generic message
    return (status if 400 <= status < 500 else 400), body


def _run(query: str) -> tuple[dict[str, str], bytes]:
    with limits.render_slot():
        return run_mapserv(query)


def _capabilities(query: str) -> tuple[dict[str, str], bytes]:
    """MapServer's (unfiltered) capabilities for `query`, from the cache while the mapfile is unchanged."""
    mapfile = config_paths().mapfile
    key = (str(mapfile), os.stat(mapfile).st_mtime_ns, query)
    hit = _capabilities_cache.get(key)
    if hit is not None:
        return hit
    headers, body = _run(query)
    if headers.get("status", "200").startswith("200") and b"ExceptionReport" not in body[:1000]:
        if len(_capabilities_cache) >= _CAPABILITIES_CACHE_SIZE:
            _capabilities_cache.clear()
        _capabilities_cache[key] = (headers, body)
    return headers, body


def serve_wfs(request: HttpRequest, user, params: dict[str, str]) -> HttpResponse:
    """Answer one WFS KVP request (`params`: tileserver.params.parse_ogc_query of its query string) for
    `user`, already authenticated and throttled by views.serve_ogc."""
    version = params.get("version") or "2.0.0"
    try:
        operation, query = build_query(params, user)
        if not config_paths().mapfile.exists():
            raise WFSError("map services not configured: run `citygis generate_mapconfig`", "NoApplicableCode",
                           status=503)
        try:
            headers, body = _capabilities(query) if operation == "GetCapabilities" else _run(query)
        except limits.RenderBusy as exc:
            response = exception_report("server busy; retry shortly", "ServerBusy", version=version, status=503)
            response["Retry-After"] = str(exc.retry_after)
            return response
    except WFSError as exc:
        return exception_report(str(exc), exc.code, exc.locator, version=version, status=exc.status)
    status_text = headers.get("status", "200")
    status = int(status_text.split()[0]) if status_text.split()[0].isdigit() else 200
    content_type = headers.get("content-type", "text/xml; charset=UTF-8")
    if b"ExceptionReport" in body[:1000]:
        answer = _mapserver_exception(status, body)
        if answer is None:
            return exception_report("the data source could not answer this request (check FILTER, "
                                    "PROPERTYNAME and SORTBY)", "OperationProcessingFailed", version=version)
        status, body = answer
    elif operation == "GetCapabilities":
        readable = frozenset(readable_feature_types(user))
        from .wfst import writable_feature_types

        body = filter_capabilities(body, readable, _online_resource(request), writable_feature_types(user))
    else:
        head = body[:_HEAD_BYTES].replace(WFS_ONLINE_PLACEHOLDER.encode(), _online_resource(request))
        body = head + body[_HEAD_BYTES:]
    return HttpResponse(body, status=status, content_type=content_type)
