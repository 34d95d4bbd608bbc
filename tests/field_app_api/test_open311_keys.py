"""`citygis create_open311_key`: keys are printed once and stored hashed."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from field_app_api.models import ApiKey

pytestmark = pytest.mark.django_db


def test_key_is_printed_once_and_only_its_hash_kept(capsys):
    call_command("create_open311_key", "partner-a")
    raw = capsys.readouterr().out.strip()
    key = ApiKey.objects.get(name="partner-a")
    assert raw and raw not in key.key_hash
    assert ApiKey.objects.lookup(raw) == key
    assert ApiKey.objects.lookup(raw + "x") is None


def test_duplicate_name_is_an_error_naming_the_field():
    call_command("create_open311_key", "partner-b")
    with pytest.raises(CommandError, match="name"):
        call_command("create_open311_key", "partner-b")


def test_revoked_key_no_longer_authenticates(capsys):
    call_command("create_open311_key", "partner-c")
    raw = capsys.readouterr().out.strip()
    call_command("create_open311_key", "partner-c", "--revoke")
    assert ApiKey.objects.lookup(raw) is None
