"""Photo intake: validate by decoding (not by name), read EXIF GPS/time, strip EXIF, thumbnail, store.

Files are written under MEDIA_ROOT with random names. `StoredFiles` deletes every file it wrote when the
surrounding block fails, so a rejected report or a rolled-back transaction leaves no orphan files.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import FileUploadHandler
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework.exceptions import ValidationError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
THUMBNAIL_SIZE = (320, 320)

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
TAG_DATETIME = 306
TAG_DATETIME_ORIGINAL = 36867


def max_photo_bytes() -> int:
    return int(settings.CITYGIS_PHOTO_MAX_BYTES)


def max_photo_count() -> int:
    return int(settings.CITYGIS_PHOTO_MAX_COUNT)


def max_photo_pixels() -> int:
    """Width × height a photo may declare (settings.CITYGIS_PHOTO_MAX_PIXELS, default 40 MP).

    Checked on the header that Image.open() reads, before any pixel is decoded: a few KB of PNG can
    declare 60 MP and cost seconds of CPU and hundreds of MB when decoded (a decompression bomb).
    Pillow's own process-wide Image.MAX_IMAGE_PIXELS is left alone (MapProxy and the PDF reports share
    the process); its DecompressionBombWarning is turned into an error inside read_photo only.
    """
    return int(settings.CITYGIS_PHOTO_MAX_PIXELS)


@dataclass
class Photo:
    """A decoded, validated photo: public re-encoded JPEG bytes, thumbnail and what its EXIF said."""

    image: bytes
    thumbnail: bytes
    taken_at: datetime | None
    gps: Point | None
    width: int
    height: int


def _rational(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        num, den = value
        return float(num) / float(den)


def _gps_point(gps: dict) -> Point | None:
    """EXIF GPS IFD → Point(lon, lat) in EPSG:4490 (WGS84 and CGCS2000 agree to centimetres)."""
    try:
        lat = sum(_rational(v) / 60**i for i, v in enumerate(gps[2]))
        lon = sum(_rational(v) / 60**i for i, v in enumerate(gps[4]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    if str(gps.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return Point(lon, lat, srid=4490)


def _taken_at(exif) -> datetime | None:
    """EXIF DateTimeOriginal (or DateTime), a local time without zone: read as the server's zone."""
    raw = exif.get_ifd(EXIF_IFD).get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME)
    if not raw:
        return None
    try:
        naive = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return timezone.make_aware(naive, timezone.get_default_timezone())


def _encode_jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    # No exif= argument: the re-encoded file carries no metadata at all.
    img.save(buf, "JPEG", quality=85, optimize=True)
    return buf.getvalue()


def _too_many_pixels(field: str, name: str, width: int, height: int) -> ValidationError:
    return ValidationError({field: [_("照片 %(name)s 尺寸 %(w)d×%(h)d 超过 %(mp)d 百万像素上限。") % {
        "name": name, "w": width, "h": height, "mp": max_photo_pixels() // 1_000_000}]})


def check_count(uploads: list, field: str = "photos") -> None:
    """Refuse more than CITYGIS_PHOTO_MAX_COUNT photos (400 naming `field`) — before reading any of them."""
    if len(uploads) > max_photo_count():
        raise ValidationError({field: [_("最多上传 %(n)d 张照片。") % {"n": max_photo_count()}]})


def read_photo(upload, field: str = "photos") -> Photo:
    """Validate one upload by decoding it; raise ValidationError naming `field` if it is not a usable image.

    Order, cheapest first: byte size; header (format, declared pixels ≤ max_photo_pixels()); only then
    verify and decode.
    """
    name = getattr(upload, "name", "") or "?"
    size = getattr(upload, "size", None)
    if size is not None and size > max_photo_bytes():
        raise ValidationError({field: [_("照片 %(name)s 超过大小上限 %(mb)d MB。") % {"name": name, "mb": max_photo_bytes() // 2**20}]})
    data = upload.read(max_photo_bytes() + 1)
    if len(data) > max_photo_bytes():
        raise ValidationError({field: [_("照片 %(name)s 超过大小上限 %(mb)d MB。") % {"name": name, "mb": max_photo_bytes() // 2**20}]})
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: here a warning is a refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                if probe.format not in ACCEPTED_FORMATS:
                    raise UnidentifiedImageError(probe.format)
                width, height = probe.size
                if width * height > max_photo_pixels():
                    raise _too_many_pixels(field, name, width, height)
                probe.verify()
            img = Image.open(io.BytesIO(data))
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError({field: [_("照片 %(name)s 像素过多（疑似解压炸弹）。") % {"name": name}]}) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ValidationError({field: [_("文件 %(name)s 不是可识别的图片。") % {"name": name}]}) from None
    exif = img.getexif()
    gps = _gps_point(exif.get_ifd(GPS_IFD)) if GPS_IFD in exif else None
    taken_at = _taken_at(exif)
    img = ImageOps.exif_transpose(img)
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    public = _encode_jpeg(img)
    thumb = img.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    return Photo(image=public, thumbnail=_encode_jpeg(thumb), taken_at=taken_at, gps=gps, width=img.width, height=img.height)


def read_photos(uploads: list, field: str = "photos") -> list[Photo]:
    """Validate a list of uploads (count limit first, then each)."""
    check_count(uploads, field)
    return [read_photo(u, field) for u in uploads]


class PhotoUploadLimits(FileUploadHandler):
    """First upload handler of the photo endpoints: refuses while streaming, before anything is buffered.

    Django itself never limits the size of an uploaded file (it spools big ones to disk); this handler raises a
    400 naming `field` as soon as a file passes CITYGIS_PHOTO_MAX_BYTES or the request carries more files than
    CITYGIS_PHOTO_MAX_COUNT. DRF turns the ValidationError raised inside parsing into the 400.
    """

    def __init__(self, request=None, field: str = "photos") -> None:
        super().__init__(request)
        self.field, self.files = field, 0

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.files += 1
        if self.files > max_photo_count():
            raise ValidationError({self.field: [_("最多上传 %(n)d 张照片。") % {"n": max_photo_count()}]})

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > max_photo_bytes():
            raise ValidationError({self.field: [_("照片 %(name)s 超过大小上限 %(mb)d MB。") % {
                "name": self.file_name, "mb": max_photo_bytes() // 2**20}]})
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) builds the file


class PhotoUploadsMixin:
    """For APIViews taking photos: installs PhotoUploadLimits before DRF reads the request."""

    def initialize_request(self, request, *args, **kwargs):
        request.upload_handlers.insert(0, PhotoUploadLimits(request))
        return super().initialize_request(request, *args, **kwargs)


def random_name(kind: str) -> str:
    """A random path under MEDIA_ROOT for a photo (`kind` is "photo" or "thumb")."""
    now = timezone.now()
    return f"field/{kind}s/{now:%Y/%m}/{uuid.uuid4().hex}.jpg"


class StoredFiles:
    """Context manager that writes files to the default storage and deletes them all if the block fails.

    Use it around the transaction: `with StoredFiles() as files, transaction.atomic(): …` — a
    validation error, an IntegrityError or a failed commit all leave nothing on disk.
    """

    def __init__(self) -> None:
        self.names: list[str] = []

    def save(self, kind: str, content: bytes) -> str:
        name = default_storage.save(random_name(kind), ContentFile(content))
        self.names.append(name)
        return name

    def __enter__(self) -> StoredFiles:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            for name in self.names:
                try:
                    default_storage.delete(name)
                except OSError:
                    pass
        return False
