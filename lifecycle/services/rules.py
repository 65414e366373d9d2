"""Lifecycle rules: the writes an operator makes, each checked so that a run never meets a rule it
cannot follow or a notice it cannot fill."""

from __future__ import annotations

import re
import string
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from lifecycle.models import (
    DATE_TRIGGERS,
    MAX_OFFSET_DAYS,
    MAX_THRESHOLD,
    THRESHOLD_TRIGGERS,
    LifecycleRule,
    TriggerKind,
)
from subgroups.models import Community, Group

PLACEHOLDERS = ("name", "from_group", "to_group", "date")
MAX_TEMPLATE = 2000
LABEL_PATTERN = re.compile(r"^[\w\-.]{1,32}$")


def default_notice() -> str:
    return _("Hi {name}, you have moved on from “{from_group}” to “{to_group}” ({date}). See you there!")


def notice_check(text: str, *, field: str = "notice_template") -> str:
    """The notice as saved: at most 2,000 characters, braces closed, only known placeholders."""
    text = (text or "").strip()
    if len(text) > MAX_TEMPLATE:
        raise ApplicationError(_("Keep the notice to 2,000 characters."), field=field)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise ApplicationError(_("A brace is not closed: write {{ and }} for literal braces."), field=field) from None
    names = [name for _literal, name, _spec, _conversion in parsed if name is not None]
    unknown = sorted({name for name in names if name not in PLACEHOLDERS})
    if unknown:
        raise ApplicationError(
            _("Unknown placeholder %(names)s. Use: %(known)s.")
            % {
                "names": ", ".join("{" + name + "}" for name in unknown),
                "known": ", ".join("{" + name + "}" for name in PLACEHOLDERS),
            },
            field=field,
        )
    if any(spec or conversion for _literal, name, spec, conversion in parsed if name is not None):
        raise ApplicationError(_("Write placeholders plainly, like {name}."), field=field)
    return text


def notice_render(template: str, values: dict[str, Any]) -> str:
    """Fill a checked notice (the default one when empty); one edited past the check in the
    admin still renders, as written."""
    template = template or default_notice()
    try:
        return template.format_map({name: values.get(name, "") for name in PLACEHOLDERS})
    except (ValueError, KeyError, IndexError, AttributeError):
        return template


def label_clean(value: str, *, field: str = "label") -> str:
    """A member date's label: one short word, e.g. exam (case folded)."""
    value = (value or "").strip().lower()
    if not LABEL_PATTERN.match(value):
        raise ApplicationError(
            _("Name the date in one word of up to 32 letters, digits, - or _, e.g. exam."), field=field
        )
    return value


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
        number = int(value)
    else:
        raise ApplicationError(_("Enter a whole number."), field=field)
    if not low <= number <= high:
        raise ApplicationError(_("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}, field=field)
    return number


def _group(community: Community, group: Group | None, field: str) -> Group:
    group = Group.objects.filter(pk=group.pk).first() if group is not None else None  # its status now
    if group is None:
        raise ApplicationError(_("Choose a group."), field=field)
    if group.community_id != community.pk:
        raise ApplicationError(_("Choose a group of this community."), field=field)
    if group.is_archived:
        raise ApplicationError(_("“%(group)s” is archived.") % {"group": group.name}, field=field)
    return group


@transaction.atomic
def rule_save(
    *,
    community: Community,
    name: str,
    from_group: Group | None,
    to_group: Group | None,
    trigger: str,
    anchor_date: date | None = None,
    date_label: str = "",
    offset_days: Any = 0,
    threshold: Any = None,
    keep_previous: bool = False,
    notice_template: str = "",
    is_active: bool = True,
    rule: LifecycleRule | None = None,
    by=None,
) -> LifecycleRule:
    """Create a rule, or change ``rule``. Only the trigger's own parameters are kept: the others
    are cleared, so a rule never carries a stale date or threshold."""
    if rule is not None and rule.community_id != community.pk:
        raise ApplicationError(_("This rule belongs to another community."), field="rule")
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise ApplicationError(_("Give the rule a name of up to 100 characters."), field="name")
    from_group = _group(community, from_group, "from_group")
    to_group = _group(community, to_group, "to_group")
    if to_group.is_hub:
        raise ApplicationError(_("Members cannot be moved into the hub: they are all in it."), field="to_group")
    if from_group.pk == to_group.pk:
        raise ApplicationError(_("Choose two different groups."), field="to_group")
    if from_group.is_hub and not keep_previous:
        raise ApplicationError(
            _("Members moved on from the hub stay in it: keep them in the previous group."), field="keep_previous"
        )
    if trigger not in TriggerKind.values:
        raise ApplicationError(_("Choose a trigger."), field="trigger")
    values: dict[str, Any] = {"anchor_date": None, "date_label": "", "offset_days": 0, "threshold": None}
    if trigger in DATE_TRIGGERS:
        values["offset_days"] = _whole(
            0 if offset_days in (None, "") else offset_days, "offset_days", -MAX_OFFSET_DAYS, MAX_OFFSET_DAYS
        )
    if trigger == TriggerKind.FIXED_DATE:
        if not isinstance(anchor_date, date):
            raise ApplicationError(_("Give the date, e.g. the exam date."), field="anchor_date")
        values["anchor_date"] = anchor_date
    elif trigger == TriggerKind.MEMBER_DATE:
        values["date_label"] = label_clean(date_label, field="date_label")
    elif trigger in THRESHOLD_TRIGGERS:
        if threshold in (None, ""):
            raise ApplicationError(_("Give the number the member must reach."), field="threshold")
        values["threshold"] = _whole(threshold, "threshold", 1, MAX_THRESHOLD)
    template = notice_check(notice_template) or default_notice()
    fields = {
        "name": name,
        "from_group": from_group,
        "to_group": to_group,
        "trigger": trigger,
        "keep_previous": bool(keep_previous),
        "notice_template": template,
        "is_active": bool(is_active),
        **values,
    }
    try:
        with transaction.atomic():
            if rule is None:
                rule = LifecycleRule.objects.create(community=community, created_by=_user(by), **fields)
            else:
                for key, value in fields.items():
                    setattr(rule, key, value)
                rule.save()
    except IntegrityError:
        raise ApplicationError(_("A rule with this name already exists."), field="name") from None
    return rule


def _user(by):
    return by if by is not None and getattr(by, "is_authenticated", False) else None


def rule_set_active(*, rule: LifecycleRule, is_active: bool) -> LifecycleRule:
    """Pause or resume a rule. Resuming checks it is still sound (its groups may have been
    archived since)."""
    if is_active and not rule.is_active:
        for field in ("from_group", "to_group"):
            group = getattr(rule, field)
            if group.is_archived:
                raise ApplicationError(_("“%(group)s” is archived.") % {"group": group.name}, field=field)
    LifecycleRule.objects.filter(pk=rule.pk).update(is_active=bool(is_active))
    rule.is_active = bool(is_active)
    return rule


@transaction.atomic
def rule_delete(*, rule: LifecycleRule) -> None:
    """Only a rule that never moved anyone goes; one with history is deactivated instead."""
    if rule.moves.exists():
        raise ApplicationError(_("This rule has moved members: deactivate it instead, to keep its history."))
    rule.delete()
