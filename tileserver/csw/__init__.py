"""CSW 2.0.2 catalogue of the layer registry at `/csw` (see docs/csw.md).

`records` turns registry layers into catalogue records (Dublin Core csw:Record and ISO 19139 gmd:MD_Metadata),
`filters` parses and evaluates GetRecords constraints (OGC Filter 1.1 XML and CQL text), `service` answers the
requests behind the one access policy (layers.access.visible_layers, credentials as tileserver.auth reads them).
Records are built per request from the registry, so they are never stale.
"""
