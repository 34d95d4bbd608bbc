"""Two editors on two connections change the same feature at once: the layer lock serialises them, the
optimistic-concurrency check refuses the second (its copy is older than the feature now), nothing is lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from layers.importer import LayerCreate, import_file
from layers.models import GenericFeature, Layer, LayerVersion
from layers.versions import EditConflict, apply_edits, current_versions

from .test_versions import V1, write


@pytest.fixture
def committed_layer(django_db_setup, django_db_blocker, tmp_path):
    """land.lyt_conc (three squares, version 1) committed, so two connections edit it at once; removed afterwards."""
    def purge() -> None:
        Layer.objects.filter(name="land.lyt_conc").delete()

    with django_db_blocker.unblock():
        purge()
        import_file(write(tmp_path, V1), "land.lyt_conc", create=LayerCreate(department="land", title_zh="并发"))
        try:
            yield Layer.objects.get(name="land.lyt_conc")
        finally:
            purge()


def test_two_editors_of_the_same_feature_one_wins_the_other_conflicts(committed_layer):
    fid = GenericFeature.objects.filter(layer=committed_layer, attributes__code="A").get().pk
    seen = current_versions(committed_layer, [fid])  # both editors read version 1 of feature A
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(name: str) -> None:
        try:
            barrier.wait()
            apply_edits(Layer.objects.get(pk=committed_layer.pk), None,
                        [{"op": "update", "id": fid, "properties": {"name": name}}], name, expected_versions=seen)
            outcomes.append("ok")
        except EditConflict as exc:
            outcomes.append(f"conflict {exc.expected}->{exc.current}")
        except Exception as exc:  # reported by the assertion below instead of vanishing with the thread
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("甲一", "甲二")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict 1->2", "ok"]
    versions = list(LayerVersion.objects.filter(layer=committed_layer).order_by("number"))
    assert [(v.number, v.rows_changed) for v in versions] == [(1, 0), (2, 1)]
    assert GenericFeature.objects.get(pk=fid).attributes["name"] == versions[1].comment
