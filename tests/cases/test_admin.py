"""Admin pages: categories editable; cases and their history readable but not changeable."""

from city_gis.cases.models import Case


def test_admin_lists_and_cases_are_read_only(new_case, client, django_user_model):
    admin = django_user_model.objects.create_superuser("t_admin", password="S3cret-pass-x")
    client.force_login(admin)
    case = new_case()
    for url in ("/admin/cases/category/", "/admin/cases/case/", "/admin/grid/component/", "/admin/grid/cell/",
                f"/admin/cases/case/{case.pk}/change/"):
        assert client.get(url).status_code == 200, url
    client.post(f"/admin/cases/case/{case.pk}/change/", {"state": "closed"})
    assert Case.objects.get(pk=case.pk).state == case.state
    assert client.get("/admin/cases/case/add/").status_code == 403
