"""Photos are judged by decoding, limited in size and count, and leave no EXIF in what is stored."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.exceptions import ValidationError

from field_app_api import photos


def upload(data: bytes, name="p.jpg"):
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_exif_gps_and_time_are_read_then_stripped(jpeg):
    photo = photos.read_photo(upload(jpeg(gps=(104.8305, 26.5935), taken="2026:11:20 10:00:00")))
    assert photo.gps.srid == 4490
    assert photo.gps.x == pytest.approx(104.8305, abs=1e-5) and photo.gps.y == pytest.approx(26.5935, abs=1e-5)
    assert photo.taken_at.isoformat() == "2026-11-20T10:00:00+08:00"
    for data in (photo.image, photo.thumbnail):
        stored = Image.open(io.BytesIO(data))
        assert stored.format == "JPEG"
        assert len(stored.getexif()) == 0
        assert b"CityGIS test phone" not in data


def test_thumbnail_is_small(jpeg):
    photo = photos.read_photo(upload(jpeg(size=(1600, 1200))))
    assert max(Image.open(io.BytesIO(photo.thumbnail)).size) <= 320
    assert (photo.width, photo.height) == (1600, 1200)


def test_a_text_file_named_jpg_is_refused():
    with pytest.raises(ValidationError) as exc:
        photos.read_photo(upload(b"GIF89a but not really an image", "evil.jpg"))
    assert "photos" in exc.value.detail


def test_a_truncated_jpeg_is_refused(jpeg):
    with pytest.raises(ValidationError):
        photos.read_photo(upload(jpeg(size=(400, 300))[:200]))


def test_oversized_upload_is_refused(jpeg, settings):
    settings.CITYGIS_PHOTO_MAX_BYTES = 500
    with pytest.raises(ValidationError) as exc:
        photos.read_photo(upload(jpeg(size=(400, 300))))
    assert "MB" in str(exc.value.detail["photos"][0])


def test_too_many_photos_are_refused(jpeg, settings):
    settings.CITYGIS_PHOTO_MAX_COUNT = 2
    with pytest.raises(ValidationError):
        photos.read_photos([upload(jpeg()) for _ in range(3)])


def test_a_png_with_a_pdf_name_is_accepted_by_content():
    buf = io.BytesIO()
    Image.new("RGBA", (10, 10)).save(buf, "PNG")
    assert photos.read_photo(upload(buf.getvalue(), "scan.pdf")).width == 10


def test_stored_files_are_deleted_when_the_block_fails(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    with pytest.raises(RuntimeError), photos.StoredFiles() as files:
        name = files.save("photo", b"x")
        assert (tmp_path / name).exists()
        raise RuntimeError("rollback")
    assert not list(tmp_path.rglob("*.jpg"))


def test_random_names_do_not_leak_the_upload_name():
    a, b = photos.random_name("photo"), photos.random_name("photo")
    assert a != b and a.startswith("field/photos/") and a.endswith(".jpg")
