"""Layer.source_filter (SQL text) → Layer.source_where (structured conditions, layers/source_filter.py).

Old filters of the shapes that exist (`layer_id = 12`, `level = 'grid' AND is_current`, `valid_to IS NULL`,
`parcel_code like 'X%'`, `survey = '2026'`) are translated; any other text stops the migration naming the
layer, so an operator rewrites it rather than a guess silently publishing the wrong rows.
"""

from django.db import migrations, models


def forwards(apps, schema_editor):
    from layers.source_filter import UnknownFilterShape, parse_legacy

    Layer = apps.get_model("layers", "Layer")
    refused = []
    for layer in Layer.objects.exclude(source_filter="").order_by("name"):
        try:
            layer.source_where = parse_legacy(layer.source_filter)
        except UnknownFilterShape as exc:
            refused.append(f"{layer.name}: {layer.source_filter!r} (cannot translate {str(exc)!r})")
            continue
        layer.save(update_fields=["source_where"])
    if refused:
        raise RuntimeError("layers.0004: source_filter of unknown shape, rewrite it as source_where by hand: "
                           + "; ".join(refused))


class Migration(migrations.Migration):

    dependencies = [
        ("layers", "0003_versions_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="layer",
            name="source_where",
            field=models.JSONField(
                blank=True, default=list, verbose_name="过滤条件",
                help_text='条件列表（AND），仅系统管理员可设置，如 [{"column": "layer_id", "op": "=", "value": 12}]',
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(model_name="layer", name="source_filter"),
    ]
