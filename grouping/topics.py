"""What a group is about, read from the group itself: its admission tags, its conventional name
(``<hub>-<attribute>小群<NN>``), or its name without the usual suffix. The survey offers these as
topics, and a group *covers* a topic when its tags or its name say so."""

from __future__ import annotations

import re
import unicodedata

from subgroups.models import Group

_SUFFIX = re.compile(r"(?:交流|研讨|实战|学习|讨论|分享|兴趣)?(?:小)?群\s*\d*$")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def fold(text: str) -> str:
    """NFKC, case-folded, without spaces or invisible characters: how topics are compared."""
    folded = unicodedata.normalize("NFKC", text or "").casefold().translate(_INVISIBLE)
    return "".join(char for char in folded if not char.isspace())


def group_attribute(group: Group, *, hub_name: str) -> str:
    """The attribute a group stands for: its first admission tag, else the attribute of its
    conventional name, else its name without a suffix such as 交流群 or 群."""
    tags = (group.admission_criteria or {}).get("tags") or []
    if tags:
        return str(tags[0])[:50]
    conventional = re.match(rf"^{re.escape(hub_name)}-(.+?)小群\d+$", group.name)
    if conventional:
        return conventional.group(1)[:50]
    stripped = _SUFFIX.sub("", group.name).strip(" -·")
    return (stripped or group.name)[:50]


def covers(group: Group, topic_texts: list[str], *, hub_name: str) -> bool:
    """Whether the group is about any of these texts (a topic's value and label): a tag equal to
    one, or the name containing one. The hub covers nothing."""
    if group.parent_id is None:
        return False
    wanted = {fold(text) for text in topic_texts if fold(text)}
    if not wanted:
        return False
    tags = {fold(str(tag)) for tag in (group.admission_criteria or {}).get("tags") or []}
    if tags & wanted:
        return True
    name = fold(group.name.removeprefix(f"{hub_name}-"))
    return any(text in name for text in wanted)
