"""The sensitive-word engine: Chinese words seen through the usual evasions, spans in the
original text, the allowlist, the per-community cache, and CSV/TXT import and export."""

import pytest

from content.models import Lexicon, LexiconEntry, WordAction, WordCategory
from content.services import lexicon
from content.words import Entry, Matcher, normalize, strongest
from core.errors import ApplicationError

ENTRIES = [
    Entry("赌博", WordCategory.CUSTOM, WordAction.BLOCK),
    Entry("竞品社群宝", WordCategory.COMPETITOR, WordAction.REVIEW),
    Entry("脑残", WordCategory.UNCIVIL, WordAction.WARN),
    Entry("VIP返利", WordCategory.CUSTOM, WordAction.REVIEW),
]


@pytest.fixture
def matcher() -> Matcher:
    return Matcher(ENTRIES, allowed=["打击赌博"])


@pytest.mark.parametrize(
    "text",
    [
        "这里有赌博网站",
        "这里有赌 博网站",  # a space
        "这里有赌\u3000博网站",  # an ideographic space
        "这里有赌.博网站",  # punctuation
        "这里有赌，博网站",  # full-width punctuation
        "这里有赌-_-博网站",
        "这里有赌\u200b博网站",  # zero-width space
        "这里有赌\u200d博网站",  # zero-width joiner
        "这里有赌\ufeff博网站",  # byte-order mark
        "这里有赌🎲博网站",  # emoji
        "这里有赌👍🏽博网站",  # emoji with a skin-tone modifier
        "这里有赌\n博网站",  # a line break
    ],
)
def test_a_word_is_caught_whatever_is_put_between_its_characters(matcher, text):
    hits = matcher.scan(text)
    assert [(hit.word, hit.action) for hit in hits] == [("赌博", WordAction.BLOCK)]
    hit = hits[0]
    # The span is in the original text and covers the evasion too.
    assert text[hit.start] == "赌" and text[hit.end - 1] == "博" and hit.matched == text[hit.start : hit.end]


@pytest.mark.parametrize("text", ["ＶＩＰ返利", "vip返利", "Vip 返 利", "ｖｉｐ·返·利", "V.I.P返利"])
def test_full_width_letters_and_case_do_not_hide_a_word(matcher, text):
    assert [hit.word for hit in matcher.scan(text)] == ["VIP返利"]


def test_clean_text_has_no_hits(matcher):
    assert matcher.scan("今天讨论产品需求评审") == []
    assert matcher.scan("") == [] and matcher.scan("  ，。!! ") == []


def test_every_hit_reports_category_action_and_span(matcher):
    text = "用竞品社群宝的都是脑残"
    hits = matcher.scan(text)
    assert [(hit.word, hit.category, hit.action, text[hit.start : hit.end]) for hit in hits] == [
        ("竞品社群宝", WordCategory.COMPETITOR, WordAction.REVIEW, "竞品社群宝"),
        ("脑残", WordCategory.UNCIVIL, WordAction.WARN, "脑残"),
    ]
    assert strongest(hits) == WordAction.REVIEW
    assert strongest(matcher.scan("赌博和脑残")) == WordAction.BLOCK
    assert strongest([]) is None


def test_the_allowlist_prevents_false_positives_but_not_real_hits(matcher):
    assert matcher.scan("我们坚决打击赌博") == []
    assert matcher.scan("打 击 赌 博") == []  # evasions apply to allowed terms too
    # 赌博 outside the allowed term is still caught, even in the same message.
    hits = matcher.scan("打击赌博，但他在赌博")
    assert len(hits) == 1 and hits[0].start == 8


def test_a_term_both_listed_and_allowed_is_allowed():
    assert Matcher([Entry("赌博", "custom", "block")], allowed=["赌博"]).scan("赌博") == []


def test_normalize_keeps_a_map_back_to_the_original():
    normalized, origin = normalize("Ａ b，赌\u200b博")
    assert normalized == "ab赌博"
    assert origin == [0, 2, 4, 6]


# --- The community's lexicon ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_default_list_applies_until_switched_off(community):
    assert [hit.word for hit in lexicon.text_scan(community=community, text="网赌")] == ["网赌"]
    assert lexicon.text_scan(community=community, text="我们要打击赌博") == []  # shipped allowlist
    lexicon.lexicon_update(community=community, use_default_list=False)
    assert lexicon.text_scan(community=community, text="网赌") == []


@pytest.mark.django_db
def test_the_category_sets_the_action_and_an_entry_may_override_it(community):
    competitor = lexicon.word_add(community=community, word="竞品社群宝", category=WordCategory.COMPETITOR)
    assert competitor.effective_action == WordAction.REVIEW
    lexicon.word_add(community=community, word="竞品社群宝", category=WordCategory.COMPETITOR, action="block")
    assert LexiconEntry.objects.filter(community=community).count() == 1
    [hit] = lexicon.text_scan(community=community, text="竞品 社群宝")
    assert hit.action == WordAction.BLOCK
    # A community's own entry overrides the shipped one with the same word.
    lexicon.word_add(community=community, word="脑残", category=WordCategory.UNCIVIL, action="review")
    assert [hit.action for hit in lexicon.text_scan(community=community, text="脑残")] == [WordAction.REVIEW]


@pytest.mark.django_db
def test_the_compiled_automaton_is_cached_until_the_lexicon_changes(community, other_community):
    first = lexicon.matcher_for(community)
    assert lexicon.matcher_for(community) is first  # unchanged lexicon, same automaton
    lexicon.word_add(community=community, word="私域裂变", category=WordCategory.CUSTOM)
    rebuilt = lexicon.matcher_for(community)
    assert rebuilt is not first
    assert [hit.word for hit in rebuilt.scan("私域 裂变")] == ["私域裂变"]
    # Another community's list is its own.
    assert lexicon.text_scan(community=other_community, text="私域裂变") == []
    # Removing the word, or allowing a term, moves the stamp again.
    lexicon.word_remove(entry=LexiconEntry.objects.get(word="私域裂变"))
    assert lexicon.text_scan(community=community, text="私域裂变") == []
    version = Lexicon.objects.get(community=community).version
    lexicon.allowed_add(community=community, term="网赌举报")
    assert Lexicon.objects.get(community=community).version == version + 1
    assert lexicon.text_scan(community=community, text="网赌举报") == []


@pytest.mark.django_db
def test_a_change_made_elsewhere_is_seen_without_signals(community):
    """Another process changed the list: the stamp in the database is all it takes."""
    assert lexicon.text_scan(community=community, text="元宇宙理财") == []
    LexiconEntry.objects.create(community=community, word="元宇宙理财", category=WordCategory.CUSTOM)
    assert lexicon.text_scan(community=community, text="元宇宙理财") == []  # nobody bumped the stamp
    lexicon._bump(community)
    assert [hit.word for hit in lexicon.text_scan(community=community, text="元宇宙理财")] == ["元宇宙理财"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("word", "field"), [("", "word"), ("   ", "word"), ("，。！", "word"), ("x" * 101, "word"), ("a\x00b", "word")]
)
def test_bad_words_are_refused_with_a_field_error(community, word, field):
    with pytest.raises(ApplicationError) as error:
        lexicon.word_add(community=community, word=word, category=WordCategory.CUSTOM)
    assert field in error.value.extra["fields"]
    assert not LexiconEntry.objects.filter(community=community).exists()


@pytest.mark.django_db
def test_csv_import_reports_bad_lines_and_keeps_good_ones(community):
    lexicon.word_add(community=community, word="刷单", category=WordCategory.CUSTOM)
    text = (
        "word,category,action\n"
        "刷单,custom,block\n"
        "竞品社群宝,competitor\n"
        "坏分类,nonsense\n"
        ",custom\n"
        "脑残粉丝,uncivil,shout\n"
    )
    report = lexicon.words_import(community=community, text=text, fmt="csv")
    assert (report.added, report.updated) == (1, 1)
    assert len(report.errors) == 2 and report.errors[0].startswith("Line 4") and report.errors[1].startswith("Line 6")
    words = dict(LexiconEntry.objects.filter(community=community).values_list("word", "action"))
    assert words == {"刷单": "block", "竞品社群宝": ""}


@pytest.mark.django_db
def test_txt_import_puts_every_word_in_the_chosen_category(community):
    report = lexicon.words_import(
        community=community, text="竞品甲\n\n# a comment\n竞品乙\n竞品甲\n", fmt="txt", category="competitor"
    )
    assert (report.added, report.updated, report.errors) == (2, 0, [])
    assert set(LexiconEntry.objects.values_list("word", "category")) == {
        ("竞品甲", "competitor"),
        ("竞品乙", "competitor"),
    }


@pytest.mark.django_db
def test_export_and_import_round_trip(community, other_community):
    lexicon.word_add(community=community, word="竞品社群宝", category=WordCategory.COMPETITOR)
    lexicon.word_add(community=community, word="刷单, 返利", category=WordCategory.CUSTOM, action="block")
    exported = lexicon.words_export(community=community, fmt="csv")
    assert exported.splitlines()[0] == "word,category,action"
    report = lexicon.words_import(community=other_community, text=exported, fmt="csv")
    assert (report.added, report.errors) == (2, [])
    mine = set(LexiconEntry.objects.filter(community=community).values_list("word", "category", "action"))
    theirs = set(LexiconEntry.objects.filter(community=other_community).values_list("word", "category", "action"))
    assert mine == theirs
    assert lexicon.words_export(community=community, fmt="txt").splitlines() == ["竞品社群宝", "刷单, 返利"]
