import pytest
from django.urls import reverse

from subgroups import selectors
from subgroups.models import Community, Group, GroupStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def admin_url(model, action: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def test_the_admin_is_for_superusers_only(client, operator):
    from django.contrib.auth.models import Permission

    operator.is_staff = True
    operator.save()
    operator.user_permissions.set(Permission.objects.filter(codename__in=["view_group", "change_group"]))
    client.force_login(operator)
    response = client.get(admin_url(Group, "changelist"))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_adding_a_community_creates_its_hub(admin_client, db):
    response = admin_client.post(
        admin_url(Community, "add"),
        {
            "name": "读书会",
            "slug": "books",
            "platform": "wechat",
            "capacity": "",
            "time_zone": "Asia/Shanghai",
            "language": "en",
        },
    )
    assert response.status_code == 302, response.content
    community = Community.objects.get(slug="books")
    assert community.hub.name == "读书会" and community.hub.capacity == 500


def test_adding_a_group_goes_through_the_rules(admin_client, community):
    data = {"parent": community.hub_id, "name": "精英群", "kind": "interest", "platform": "wechat"}
    response = admin_client.post(admin_url(Group, "add"), {**data, "admission_criteria": "{}"})
    assert response.status_code == 200
    assert "精英" in response.context["adminform"].form.errors["name"][0]

    response = admin_client.post(admin_url(Group, "add"), {**data, "name": "读书群", "admission_criteria": "{}"})
    assert response.status_code == 302
    group = Group.objects.get(name="读书群")
    assert group.community == community and group.capacity == 500 and group.slug == "du-shu-qun"
    assert selectors.tree_problems() == []


def test_changing_the_parent_moves_the_subtree(admin_client, community):
    design, coders = Group.objects.get(name="设计美学交流群"), Group.objects.get(name="程序员技术群")
    form = {
        "parent": coders.pk,
        "name": design.name,
        "platform": design.platform,
        "capacity": design.capacity,
        "external_id": "",
        "description": "",
        "rules": "",
        "admission_criteria": "{}",
    }
    response = admin_client.post(admin_url(Group, "change", design.pk), form)
    assert response.status_code == 302
    assert Group.objects.get(pk=design.pk).parent_id == coders.pk
    assert Group.objects.get(name="摄影群").level == 3
    assert selectors.tree_problems() == []

    photo = Group.objects.get(name="摄影群")
    response = admin_client.post(admin_url(Group, "change", design.pk), {**form, "parent": photo.pk})
    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors


def test_archive_action_and_delete(admin_client, community):
    design = Group.objects.get(name="设计美学交流群")
    admin_client.post(admin_url(Group, "changelist"), {"action": "archive_groups", "_selected_action": [design.pk]})
    assert Group.objects.get(name="摄影群").status == GroupStatus.ARCHIVED
    response = admin_client.post(admin_url(Group, "delete", design.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Group.objects.filter(name__in=["设计美学交流群", "摄影群"]).exists()
    assert selectors.tree_problems() == []


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (
            {"name": "读书会", "slug": "a_b", "platform": "wechat", "time_zone": "Asia/Shanghai", "language": "en"},
            "slug",
        ),
        (
            {"name": "精英会", "slug": "elite", "platform": "wechat", "time_zone": "Asia/Shanghai", "language": "en"},
            "name",
        ),
        (
            {
                "name": "读书会",
                "slug": "internet",
                "platform": "wechat",
                "time_zone": "Asia/Shanghai",
                "language": "en",
            },
            "slug",
        ),
    ],
)
def test_bad_community_input_is_a_form_error(admin_client, community, form, field):
    response = admin_client.post(admin_url(Community, "add"), {"capacity": "", **form})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


def test_bad_banned_words_are_a_form_error(admin_client, community):
    response = admin_client.post(
        admin_url(Community, "change", community.pk),
        {"time_zone": "Asia/Shanghai", "language": "en", "banned_name_words": "5"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors


@pytest.mark.parametrize(
    ("change", "field"),
    [({"slug": "photo"}, "slug"), ({"parent": "archived"}, "parent"), ({"slug": "Bad Slug"}, "slug")],
)
def test_bad_group_input_is_a_form_error(admin_client, community, change, field):
    from subgroups import services

    design = Group.objects.get(name="设计美学交流群")
    Group.objects.filter(name="摄影群").update(slug="photo")
    services.group_archive(group=design)
    data = {
        "parent": community.hub_id,
        "name": "读书群",
        "kind": "interest",
        "platform": "wechat",
        "admission_criteria": "{}",
        **change,
    }
    if data["parent"] == "archived":
        data["parent"] = design.pk
    response = admin_client.post(admin_url(Group, "add"), data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Group.objects.filter(name="读书群").exists()
