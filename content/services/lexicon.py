"""The community's word list, its allowlist, CSV/TXT import and export, and the compiled
automaton, cached per community and rebuilt when the lexicon's version stamp moves."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from content.models import CATEGORY_ACTION, AllowedTerm, Lexicon, LexiconEntry, WordAction, WordCategory
from content.words import Entry, Hit, Matcher, normalize_word
from core.errors import ApplicationError
from core.text import has_invalid_characters
from subgroups.models import Community

_SHIPPED = Path(__file__).resolve().parent.parent / "lexicon"
MAX_WORDS = 50_000  # per community: the automaton stays small and an import stays quick


@cache
def default_entries() -> tuple[Entry, ...]:
    """Canopy's shipped list (content/lexicon/default.csv)."""
    entries = []
    for row in csv.reader(
        line
        for line in (_SHIPPED / "default.csv").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ):
        category, word, *rest = (cell.strip() for cell in row)
        entries.append(Entry(word, category, rest[0] if rest and rest[0] else CATEGORY_ACTION[category]))
    return tuple(entries)


@cache
def default_allowed() -> tuple[str, ...]:
    lines = (_SHIPPED / "allowed.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def lexicon_for(community: Community) -> Lexicon:
    lexicon, _created = Lexicon.objects.get_or_create(community=community)
    return lexicon


def _bump(community: Community) -> None:
    lexicon_for(community)
    Lexicon.objects.filter(community=community).update(version=F("version") + 1, stamp=uuid.uuid4())


def clean_word(word: str, field: str = "word") -> str:
    word = " ".join((word or "").split())
    if not word or len(word) > 100 or has_invalid_characters(word):
        raise ApplicationError(_("A word is 1 to 100 printable characters."), field=field)
    if not normalize_word(word):
        raise ApplicationError(_("A word needs at least one letter or digit."), field=field)
    return word


def _clean_category(category: str) -> str:
    if category not in WordCategory.values:
        raise ApplicationError(
            _("Choose a category: %(choices)s.") % {"choices": ", ".join(WordCategory.values)}, field="category"
        )
    return category


def _clean_action(action: str) -> str:
    if action and action not in WordAction.values:
        raise ApplicationError(
            _("Choose an action: %(choices)s.") % {"choices": ", ".join(WordAction.values)}, field="action"
        )
    return action or ""


def _check_room(community: Community, adding: int) -> None:
    if LexiconEntry.objects.filter(community=community).count() + adding > MAX_WORDS:
        raise ApplicationError(_("A community's list holds at most %(max)d words.") % {"max": MAX_WORDS}, field="word")


@transaction.atomic
def word_add(*, community: Community, word: str, category: str, action: str = "") -> LexiconEntry:
    """Add a word, or change the category and action of one already listed (the same word as
    the engine reads it, however it is written)."""
    word, category, action = clean_word(word), _clean_category(category), _clean_action(action)
    key = normalize_word(word)
    if not LexiconEntry.objects.filter(community=community, key=key).exists():
        _check_room(community, 1)
    entry, _created = LexiconEntry.objects.update_or_create(
        community=community, key=key, defaults={"word": word, "category": category, "action": action}
    )
    _bump(community)
    return entry


@transaction.atomic
def word_remove(*, entry: LexiconEntry) -> None:
    community = entry.community
    entry.delete()
    _bump(community)


@transaction.atomic
def allowed_add(*, community: Community, term: str) -> AllowedTerm:
    term = clean_word(term, field="term")
    try:
        with transaction.atomic():
            allowed, _created = AllowedTerm.objects.get_or_create(community=community, term=term)
    except IntegrityError:
        allowed = AllowedTerm.objects.get(community=community, term=term)
    _bump(community)
    return allowed


@transaction.atomic
def allowed_remove(*, allowed: AllowedTerm) -> None:
    community = allowed.community
    allowed.delete()
    _bump(community)


@transaction.atomic
def lexicon_update(*, community: Community, use_default_list: bool) -> Lexicon:
    lexicon_for(community)
    Lexicon.objects.filter(community=community).update(
        use_default_list=bool(use_default_list), version=F("version") + 1, stamp=uuid.uuid4()
    )
    return Lexicon.objects.get(community=community)


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    errors: list[str]


@transaction.atomic
def words_import(*, community: Community, text: str, fmt: str, category: str = WordCategory.CUSTOM) -> ImportReport:
    """CSV rows ``word,category[,action]``, or TXT with one word per line (all in ``category``).
    Bad rows are reported by line; good ones are kept."""
    category = _clean_category(category)
    if fmt not in ("csv", "txt"):
        raise ApplicationError(_("Import CSV or TXT."), field="format")
    if len(text) > 2_000_000:
        raise ApplicationError(_("Import at most 2 MB at a time."), field="file")
    existing = set(LexiconEntry.objects.filter(community=community).values_list("key", flat=True))
    rows: list[tuple[int, str, str, str]] = []
    lines = text.splitlines()  # \n, \r\n and the old Mac's bare \r alike
    if fmt == "txt":
        rows = [(number, line.strip(), category, "") for number, line in enumerate(lines, 1)]
    else:
        reader = csv.reader(lines)
        try:
            for number, row in enumerate(reader, 1):
                cells = [cell.strip() for cell in row]
                if not cells or not any(cells) or cells[0].startswith("#") or cells[0].lower() == "word":
                    continue
                rows.append(
                    (
                        number,
                        cells[0],
                        cells[1] if len(cells) > 1 and cells[1] else category,
                        cells[2] if len(cells) > 2 else "",
                    )
                )
        except csv.Error as error:
            raise ApplicationError(
                _("Line %(line)d is not valid CSV: %(error)s") % {"line": reader.line_num, "error": error},
                field="file",
            ) from None
    errors: list[str] = []
    entries: dict[str, LexiconEntry] = {}
    for number, word, row_category, action in rows:
        if not word or word.startswith("#"):
            continue
        try:
            word = clean_word(word)
            row_category, action = _clean_category(row_category), _clean_action(action)
        except ApplicationError as error:
            errors.append(_("Line %(line)d: %(error)s") % {"line": number, "error": error.message})
            continue
        key = normalize_word(word)
        entries.setdefault(
            key, LexiconEntry(community=community, word=word, key=key, category=row_category, action=action)
        )
    added = len(entries.keys() - existing)
    updated = len(entries) - added
    _check_room(community, added)
    LexiconEntry.objects.bulk_create(
        entries.values(),
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["community", "key"],
        update_fields=["word", "category", "action"],
    )
    if entries:
        _bump(community)
    return ImportReport(added, updated, errors[:100])


def words_export(*, community: Community, fmt: str) -> str:
    entries = LexiconEntry.objects.filter(community=community).order_by("category", "word")
    if fmt == "txt":
        return "".join(f"{entry.word}\n" for entry in entries)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["word", "category", "action"])
    for entry in entries:
        writer.writerow([entry.word, entry.category, entry.action])
    return out.getvalue()


# --- The compiled automaton -----------------------------------------------------------------

_compiled: dict[int, tuple[uuid.UUID, Matcher]] = {}
_compiling = threading.Lock()


def effective_entries(community: Community, lexicon: Lexicon) -> list[Entry]:
    """The community's own words, and the shipped ones it hasn't overridden. An own entry
    overrides a shipped one that reads the same once normalised (傻X and 傻x are one word)."""
    own = {
        normalize_word(entry.word): Entry(entry.word, entry.category, entry.effective_action)
        for entry in LexiconEntry.objects.filter(community=community)
    }
    if not lexicon.use_default_list:
        return list(own.values())
    shipped = [entry for entry in default_entries() if normalize_word(entry.word) not in own]
    return [*shipped, *own.values()]


def matcher_for(community: Community) -> Matcher:
    """The community's automaton, rebuilt only when its lexicon's stamp has moved (one small
    query to read it; no signals to miss)."""
    lexicon = lexicon_for(community)
    cached = _compiled.get(community.pk)
    if cached and cached[0] == lexicon.stamp:
        return cached[1]
    with _compiling:
        cached = _compiled.get(community.pk)
        if cached and cached[0] == lexicon.stamp:
            return cached[1]
        allowed = list(AllowedTerm.objects.filter(community=community).values_list("term", flat=True))
        if lexicon.use_default_list:
            allowed += default_allowed()
        matcher = Matcher(effective_entries(community, lexicon), allowed)
        _compiled[community.pk] = (lexicon.stamp, matcher)
        return matcher


def text_scan(*, community: Community, text: str) -> list[Hit]:
    return matcher_for(community).scan(text)
