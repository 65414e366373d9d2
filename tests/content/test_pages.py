"""The content pages operators use: word lists, import and export, the scan box, digests,
integrations, the welcome editor and posting as staff."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from content.models import AllowedTerm, Lexicon, LexiconEntry, Post, PostStatus
from outbox.models import Integration
from tests.personas import page_client

pytestmark = pytest.mark.django_db


def url(name, community, *args):
    return reverse(f"content:{name}", args=[community.slug, *args])


def test_every_content_page_renders_for_the_owner(community, photo, owner):
    client = page_client(owner)
    for name, args in [
        ("review", ()),
        ("posts", ()),
        ("post_new", ()),
        ("flags", ()),
        ("words", ()),
        ("digests", ()),
        ("calendar", ()),
        ("auto_replies", ()),
        ("integrations", ()),
        ("welcome", (photo.pk,)),
    ]:
        response = client.get(url(name, community, *args))
        assert response.status_code == 200, name
    assert client.get(reverse("content:my_posts")).status_code == 200


def test_pages_speak_chinese(community, owner):
    client = page_client(owner)
    body = client.get(url("review", community), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "初审" in body and "终审" in body


def test_words_are_added_allowed_and_removed_on_the_page(community, owner):
    client = page_client(owner)
    assert (
        client.post(
            url("words", community), {"action": "word", "word-word": "竞品社群宝", "word-category": "competitor"}
        ).status_code
        == 302
    )
    response = client.post(url("words", community), {"action": "word", "word-word": "，，", "word-category": "custom"})
    assert response.status_code == 302  # the service's refusal is shown as a message
    assert list(LexiconEntry.objects.values_list("word", flat=True)) == ["竞品社群宝"]
    response = client.post(
        url("words", community), {"action": "word", "word-word": "", "word-category": "custom", "word-action": "block"}
    )
    assert response.status_code == 400 and "word" in response.context["word_form"].errors
    client.post(url("words", community), {"action": "allowed", "term": "反竞品社群宝"})
    assert AllowedTerm.objects.get().term == "反竞品社群宝"
    page = client.get(url("words", community)).content.decode()
    assert "竞品社群宝" in page and "反竞品社群宝" in page
    entry = LexiconEntry.objects.get()
    client.post(url("words", community), {"action": "remove-word", "id": entry.pk})
    client.post(url("words", community), {"action": "remove-allowed", "id": AllowedTerm.objects.get().pk})
    assert not LexiconEntry.objects.exists() and not AllowedTerm.objects.exists()
    client.post(url("words", community), {"action": "defaults", "use_default_list": "0"})
    assert Lexicon.objects.get(community=community).use_default_list is False


def test_the_scan_box_highlights_hits_where_they_stand(community, owner):
    response = page_client(owner).post(url("words_scan", community), {"text": "<b>这里有赌 博</b>"})
    body = response.content.decode()
    assert response.status_code == 200
    assert '<mark class="word-block">赌 博</mark>' in body
    assert "&lt;b&gt;" in body and "<b>" not in body  # the text is escaped, never rendered


def test_import_and_export_files(community, owner):
    client = page_client(owner)
    upload = SimpleUploadedFile("words.csv", "word,category,action\n竞品甲,competitor,\n刷单,custom,block\n".encode())
    response = client.post(url("words", community), {"action": "import", "category": "custom", "file": upload})
    assert response.status_code == 302
    assert set(LexiconEntry.objects.values_list("word", "action")) == {("竞品甲", ""), ("刷单", "block")}
    upload = SimpleUploadedFile("words.txt", "返利群\n".encode("gbk"))
    response = client.post(url("words", community), {"action": "import", "category": "custom", "file": upload})
    assert response.status_code == 400 and "UTF-8" in response.content.decode()
    upload = SimpleUploadedFile("words.txt", "\ufeff返利群\n".encode())  # Excel's BOM
    client.post(url("words", community), {"action": "import", "category": "competitor", "file": upload})
    assert LexiconEntry.objects.get(word="返利群").category == "competitor"

    exported = client.get(url("words_export", community), {"format": "csv"})
    assert exported["Content-Disposition"].endswith('.csv"')
    assert "竞品甲,competitor," in exported.content.decode()
    assert client.get(url("words_export", community), {"format": "txt"}).content.decode().splitlines() == [
        "竞品甲",
        "返利群",
        "刷单",
    ]


def test_staff_post_from_the_dashboard(community, photo, subtree_admin):
    client = page_client(subtree_admin)
    response = client.post(
        url("post_new", community), {"group": photo.pk, "kind": "announcement", "title": "公告", "body": "周六见"}
    )
    assert response.status_code == 302
    assert Post.objects.get().status == PostStatus.PUBLISHED
    response = client.post(url("post_new", community), {"group": photo.pk, "kind": "news", "title": "", "body": ""})
    assert response.status_code == 400


def test_the_welcome_editor_previews_and_saves(community, photo, subtree_admin, sibling_admin):
    client = page_client(subtree_admin)
    preview = client.post(
        url("welcome", community, photo.pk), {"action": "preview", "welcome_template": "欢迎 {name} 来到 {group}！"}
    )
    assert "欢迎 New member 来到 摄影群！" in preview.content.decode()
    preview = client.post(url("welcome", community, photo.pk), {"action": "preview", "welcome_template": "{nmae}"})
    assert "Unknown placeholder {nmae}" in preview.content.decode()
    response = client.post(url("welcome", community, photo.pk), {"welcome_template": "欢迎 {name}"})
    assert response.status_code == 302
    photo.refresh_from_db()
    assert photo.welcome_template == "欢迎 {name}"
    assert page_client(sibling_admin).get(url("welcome", community, photo.pk)).status_code == 404


def test_integrations_page_is_the_owners(community, owner, subtree_admin):
    assert page_client(subtree_admin).get(url("integrations", community)).status_code == 404
    client = page_client(owner)
    response = client.post(
        url("integrations", community), {"name": "企微机器人", "platform": "wecom", "webhook_url": ""}
    )
    assert response.status_code == 302
    integration = Integration.objects.get()
    body = client.get(url("integrations", community)).content.decode()
    assert "企微机器人" in body
    client.post(url("integrations", community), {"action": "delete", "id": integration.pk})
    assert not Integration.objects.exists()
