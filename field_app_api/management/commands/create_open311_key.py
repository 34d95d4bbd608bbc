"""`citygis create_open311_key NAME`: issue an Open311 API key for a partner application (printed once)."""

from django.core.management.base import BaseCommand, CommandError

from field_app_api.models import ApiKey


class Command(BaseCommand):
    help = "Create an Open311 API key named NAME and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="partner application name (unique)")
        parser.add_argument("--revoke", action="store_true", help="deactivate the key named NAME instead")

    def handle(self, *args, name: str, revoke: bool, **options):
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("name: must be 1–100 characters")
        if revoke:
            if not ApiKey.objects.filter(name=name).update(active=False):
                raise CommandError(f"name: no API key named {name!r}")
            self.stdout.write(f"revoked {name}")
            return
        if ApiKey.objects.filter(name=name).exists():
            raise CommandError(f"name: an API key named {name!r} already exists")
        _key, raw = ApiKey.issue(name)
        self.stdout.write(raw)
