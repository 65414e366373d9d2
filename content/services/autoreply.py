"""Keyword auto-replies for the bots (关键词自动回复)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from content.models import AutoReply, MatchMode
from content.words import normalize_word
from core.errors import ApplicationError
from core.text import has_invalid_characters, has_invalid_multiline_characters
from subgroups.models import Group


def rule_clean(*, keyword: str, reply: str, match: str, priority: int) -> tuple[str, str, str, int]:
    """A rule's fields, checked and tidied (the admin checks with it too)."""
    keyword = " ".join((keyword or "").split())
    if not keyword or len(keyword) > 100 or has_invalid_characters(keyword) or not normalize_word(keyword):
        raise ApplicationError(_("A keyword is 1 to 100 characters with a letter or digit."), field="keyword")
    reply = (reply or "").strip()
    if not reply or len(reply) > 2000 or has_invalid_multiline_characters(reply):
        raise ApplicationError(_("A reply is 1 to 2000 characters."), field="reply")
    if match not in MatchMode.values:
        raise ApplicationError(_("Match the whole message or a part of it."), field="match")
    if isinstance(priority, bool) or not isinstance(priority, int) or not -100 <= priority <= 100:
        raise ApplicationError(_("Priority runs from -100 to 100."), field="priority")
    return keyword, reply, match, priority


@transaction.atomic
def auto_reply_create(
    *, group: Group, keyword: str, reply: str, match: str = MatchMode.CONTAINS, priority: int = 0
) -> AutoReply:
    keyword, reply, match, priority = rule_clean(keyword=keyword, reply=reply, match=match, priority=priority)
    return AutoReply.objects.create(group=group, keyword=keyword, reply=reply, match=match, priority=priority)


def auto_reply_delete(*, rule: AutoReply) -> None:
    rule.delete()


def auto_reply_find(*, group: Group, text: str) -> AutoReply | None:
    """The reply for a message: the group's own rules first, then its ancestors' (a hub's
    rules serve its sub-groups); within a group, the highest priority wins. Matching ignores
    case, width, spaces and punctuation, like the word engine."""
    message = normalize_word(text or "")
    if not message:
        return None
    chain = [group, *reversed(group.get_ancestors())]
    rules = AutoReply.objects.filter(group__in=chain, is_active=True).order_by("-priority", "pk")
    order = {ancestor.pk: depth for depth, ancestor in enumerate(chain)}
    for rule in sorted(rules, key=lambda rule: (order[rule.group_id], -rule.priority, rule.pk)):
        keyword = normalize_word(rule.keyword)
        if (rule.match == MatchMode.EXACT and message == keyword) or (
            rule.match == MatchMode.CONTAINS and keyword in message
        ):
            return rule
    return None
