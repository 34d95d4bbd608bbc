"""Decompression bombs and oversized photo sets are refused cheaply: before any pixel is decoded.

Observation 8 of issue 9: six 7 KB PNGs of 7745² px took 8 s CPU and +500 MB before the report was refused
for a bad category. Now the cheap fields are checked first, the declared pixel count is checked on the
header (CITYGIS_PHOTO_MAX_PIXELS, default 40 MP), and neither path ever runs Pillow's decoder — a spy on
`ImageFile.load` (the real Pillow code, only counted) proves it.
"""

from __future__ import annotations

import json
import struct
import time
import uuid
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ImageFile

from city_gis.cases.models import Case, CaseAttachment, CaseHistory
from field_app_api.models import ReportReceipt

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int, *, full: bool = True) -> bytes:
    """A greyscale PNG of width×height zeros: a few KB that decode to width×height bytes.

    full=False writes only the first rows (a header that lies: still must be refused by the header alone).
    """
    row = b"\x00" * (width + 1)  # filter byte + pixels
    z = zlib.compressobj(9)
    rows = height if full else 1
    idat = b"".join(z.compress(row) for _ in range(rows)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = png_bomb(7745, 7745)  # 60 MP, the payload of the observation
    assert len(data) < 100_000
    return data


@pytest.fixture
def decodes(monkeypatch):
    """Counts calls of Pillow's pixel decoder (ImageFile.load), still running the real code."""
    calls = []
    real = ImageFile.ImageFile.load

    def counting(self):
        calls.append(self.size)
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return calls


def report(area, photos: list[bytes], **over) -> dict:
    data = {
        "client_uuid": str(uuid.uuid4()), "category": "0102", "description": "路边暴露垃圾一堆",
        "location": json.dumps({"type": "Point", "coordinates": [area["lon"], area["lat"]]}),
        "observed_at": "2026-11-25T09:30:00+08:00",
        "photos": [SimpleUploadedFile(f"p{i}.png", p, content_type="image/png") for i, p in enumerate(photos)],
    }
    data.update(over)
    return data


def state() -> tuple[int, int, int, int]:
    return Case.objects.count(), CaseHistory.objects.count(), CaseAttachment.objects.count(), ReportReceipt.objects.count()


def post(client_as, data):
    started = time.process_time()
    r = client_as("inspector1").post(URL, data, format="multipart")
    return r, time.process_time() - started


def test_bad_category_is_refused_before_any_photo_is_read(client_as, field_area, bomb, decodes):
    before = state()
    r, cpu = post(client_as, report(field_area, [bomb] * 6, category="9999"))
    assert r.status_code == 400 and "category" in r.json()
    assert decodes == [] and state() == before
    assert cpu < 1.0, f"refusal took {cpu:.2f} s CPU"


def test_bomb_with_a_good_category_is_refused_naming_the_photo(client_as, field_area, bomb, decodes):
    before = state()
    r, cpu = post(client_as, report(field_area, [bomb] * 6))
    assert r.status_code == 400, r.content[:300]
    body = r.json()
    assert list(body) == ["photos"] and "7745×7745" in body["photos"][0]
    assert decodes == [] and state() == before
    assert cpu < 1.0, f"refusal took {cpu:.2f} s CPU"


@pytest.mark.parametrize("size", [(6400, 6400), (40_000, 1001), (30_000, 30_000), (65_535, 65_535)])
def test_header_declaring_too_many_pixels_is_refused_without_decoding(client_as, field_area, decodes, size):
    """Above the cap, and far above Pillow's own bomb limit (DecompressionBombError inside open())."""
    r, _ = post(client_as, report(field_area, [png_bomb(*size, full=False)]))
    assert r.status_code == 400 and "photos" in r.json()
    assert decodes == []


def test_the_pixel_cap_is_a_setting(client_as, field_area, jpeg, settings, decodes):
    settings.CITYGIS_PHOTO_MAX_PIXELS = 64 * 48 - 1
    before = state()
    r, _ = post(client_as, report(field_area, [jpeg(size=(64, 48))]))
    assert r.status_code == 400 and "photos" in r.json()
    assert decodes == [] and state() == before
    settings.CITYGIS_PHOTO_MAX_PIXELS = 64 * 48
    r, _ = post(client_as, report(field_area, [jpeg(size=(64, 48))]))
    assert r.status_code == 201, r.content[:300]


def test_photo_count_is_checked_before_reading_any(client_as, field_area, jpeg, settings, decodes):
    settings.CITYGIS_PHOTO_MAX_COUNT = 2
    before = state()
    r, _ = post(client_as, report(field_area, [jpeg()] * 3))
    assert r.status_code == 400 and "photos" in r.json()
    assert decodes == [] and state() == before


def test_photo_bytes_are_bounded(client_as, field_area, jpeg, settings, decodes):
    settings.CITYGIS_PHOTO_MAX_BYTES = 1000
    big = jpeg(size=(400, 300))
    assert len(big) > 1000
    before = state()
    r, _ = post(client_as, report(field_area, [big]))
    assert r.status_code == 400 and "photos" in r.json()
    assert decodes == [] and state() == before


def test_task_completion_photos_are_bounded_too(client_as, bomb, decodes):
    """The task endpoint shares photos.read_photo: the same bomb is refused there (a demo dispatched case)."""
    from city_gis.cases.models import State

    case = Case.objects.filter(state=State.DISPATCHED, department__isnull=False).select_related("department").first()
    assert case is not None, "the demo has dispatched cases"
    before = state()
    r = client_as(f"dept_{case.department.code}").post(
        f"/api/v1/tasks/{case.pk}/complete/",
        {"action": "dispose", "result": "已清理", "photos": [SimpleUploadedFile("b.png", bomb)]}, format="multipart")
    assert r.status_code == 400 and "photos" in r.json(), r.content[:300]
    assert decodes == [] and state() == before
    assert Case.objects.get(pk=case.pk).state == State.DISPATCHED


@pytest.mark.parametrize("setting,value,photos", [
    ("CITYGIS_PHOTO_MAX_COUNT", 2, 3),
    ("CITYGIS_PHOTO_MAX_BYTES", 100_000, 1),
])
def test_limits_hold_while_the_upload_streams_before_any_field_is_validated(client_as, field_area, settings,
                                                                            decodes, setting, value, photos):
    """Django never caps an uploaded file's size (it spools to disk): the upload handler does, mid-stream.

    The body's own fields are invalid too (client_uuid); the photo error wins because it is raised while
    parsing, before the serializer runs.
    """
    setattr(settings, setting, value)
    blob = b"\xff\xd8" + b"\x00" * 300_000
    before = state()
    r, _ = post(client_as, report(field_area, [blob] * photos, client_uuid="not-a-uuid"))
    assert r.status_code == 400, r.content[:300]
    assert list(r.json()) == ["photos"]
    assert decodes == [] and state() == before
