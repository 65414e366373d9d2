"""Which interest sub-groups fit which members: a multi-label model trained on the members who
are already in interest sub-groups, judged on members it never saw, then used for everyone.

**Labels**: each member's open memberships in the community's interest sub-groups.

**Features**, one query per family, never one per member:
- the needs survey: topics chosen (multi-hot), preferred size, message frequency, willing to
  be an admin (one-hot), and whether they answered;
- what they write: TF-IDF over character 2–3-grams (Chinese has no spaces between words) of
  their kept message texts and their posts' titles and bodies;
- how they take part: messages, replies, reactions, check-ins and visits over 90 days (log
  scale) and the share of it in the hub, from the analytics rollups (MemberDay).

The hour of day is left out: it needs the raw events (on SQLite an hour is extracted in Python,
about 2 s per 50,000 events) and says little about which topics a member likes.

**No leak of the label**: every behavioural feature comes only from groups that are *not*
labels, the hub and the tier, region, lifecycle and custom groups. A member's messages,
posts or check-ins inside 摄影群 would reveal that they are in 摄影群; their words in the hub
reveal only what they care about, which is what the model should learn from. The survey's
topics are the member's own statement of interest, given before any recommendation, so they
are fair too.

**Quality**: a quarter of the labelled members (a seeded random split) are held out; a model
trained on the rest ranks the groups for them, and precision@1 (the top group is one of
theirs), hit rate@3 (one of theirs is in the top three) and recall@3 (the share of theirs in
the top three) are compared with a popularity baseline (the biggest groups, for everyone). The
model is then refitted on every labelled member, and each member gets their top three groups
among those they are not in.
"""

from __future__ import annotations

import logging
import math
import warnings
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from analytics.models import Event, EventKind, MemberDay
from content.models import Post, PostStatus
from grouping.models import (
    MemberRecommendation,
    NeedsSurvey,
    QuestionKind,
    RecommendationRun,
    RunStatus,
    SurveyResponse,
)
from members.models import Membership, MembershipStatus
from subgroups.models import Community, Group, GroupKind, GroupStatus

logger = logging.getLogger(__name__)

MIN_LABELLED = 20  # members in interest sub-groups needed to train and judge a model
MIN_PER_GROUP = 5  # members a group needs to be learned
TEST_SHARE = 0.25
TOP = 3
ACTIVITY_DAYS = 90
TEXT_DAYS = 180
TEXT_CHARS = 20_000  # per member: enough to know their topics, bounded for the heaviest posters
ACTIVITY = ("messages", "replies", "reactions", "check_ins", "visits")


# --- Features -----------------------------------------------------------------------------------


def _survey_features(community: Community, index: pd.Index) -> pd.DataFrame:
    survey = NeedsSurvey.objects.filter(community=community).first()
    if survey is None:
        return pd.DataFrame(index=index)
    questions = [question for question in survey.questions.all() if question.kind != QuestionKind.TEXT]
    columns = {
        f"survey:{question.key}={choice['value']}": (question.key, choice["value"])
        for question in questions
        for choice in question.choices
    }
    frame = pd.DataFrame(0.0, index=index, columns=["survey:answered", *columns])
    position = {column: number for number, column in enumerate(frame.columns)}
    values = frame.to_numpy()
    rows = {member_id: number for number, member_id in enumerate(index)}
    for member_id, answers in SurveyResponse.objects.filter(survey=survey, member_id__in=index).values_list(
        "member_id", "answers"
    ):
        row = rows.get(member_id)
        if row is None or not isinstance(answers, dict):
            continue
        values[row, 0] = 1.0
        for key, given in answers.items():
            for value in given if isinstance(given, list) else [given]:
                column = f"survey:{key}={value}"
                if column in position:
                    values[row, position[column]] = 1.0
    return pd.DataFrame(values, index=index, columns=frame.columns)


def _texts(community: Community, index: pd.Index, excluded: list[int], since: datetime) -> pd.Series:
    """Each member's words outside the label groups: kept message texts and their posts."""
    parts: dict[int, list[str]] = {}
    sizes: dict[int, int] = {}

    def add(member_id: int, text: str) -> None:
        if text and sizes.get(member_id, 0) < TEXT_CHARS:
            parts.setdefault(member_id, []).append(text)
            sizes[member_id] = sizes.get(member_id, 0) + len(text)

    events = (
        Event.objects.filter(
            community=community,
            day__gte=since.date(),
            kind__in=[EventKind.MESSAGE, EventKind.REPLY],
            member_id__in=index,
        )
        .exclude(text="")
        .exclude(group_id__in=excluded)
        .order_by("-occurred_at")
        .values_list("member_id", "text")
    )
    for member_id, text in events.iterator(chunk_size=5000):
        add(member_id, text)
    posts = (
        Post.objects.filter(community=community, author_id__in=index, created_at__gte=since)
        .exclude(group_id__in=excluded)
        .exclude(status__in=[PostStatus.BLOCKED, PostStatus.REJECTED])
        .order_by("-created_at")
        .values_list("author_id", "title", "body")
    )
    for member_id, title, body in posts.iterator(chunk_size=2000):
        add(member_id, f"{title}\n{body}")
    return pd.Series({member_id: "\n".join(parts.get(member_id, [])) for member_id in index}, dtype=object)


def _activity(community: Community, index: pd.Index, excluded: list[int], since: datetime) -> pd.DataFrame:
    """Activity over 90 days outside the label groups, and the share of it in the hub."""
    sums = {name: Sum(name) for name in ACTIVITY}
    rows = (
        MemberDay.objects.filter(community=community, day__gte=since.date(), member_id__in=index)
        .exclude(group_id__in=excluded)
        .values("member_id")
        .annotate(**sums, events_all=Sum("events"), events_hub=Sum("events", filter=Q(group_id=community.hub_id)))
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["member_id", *ACTIVITY, "events_all", "events_hub"])
    frame = frame.set_index("member_id").reindex(index).astype(float).fillna(0.0)
    result = pd.DataFrame(index=index)
    for name in ACTIVITY:
        result[f"activity:{name}"] = np.log1p(frame[name])
    result["activity:hub_share"] = np.where(
        frame["events_all"] > 0, frame["events_hub"] / frame["events_all"].clip(lower=1), 0.0
    )
    return result


def member_features(
    community: Community, member_ids: list[int], *, label_groups: list[int], now: datetime | None = None
) -> pd.DataFrame:
    """One row per member: a ``text`` column and numeric columns, from everything but the label
    groups. Six queries (the survey's questions and answers, messages, posts, activity) however many
    members."""
    now = now or timezone.now()
    index = pd.Index(sorted(member_ids), name="member_id")
    frame = pd.concat(
        [
            _survey_features(community, index),
            _activity(community, index, label_groups, now - timedelta(days=ACTIVITY_DAYS)),
        ],
        axis=1,
    )
    frame.insert(0, "text", _texts(community, index, label_groups, now - timedelta(days=TEXT_DAYS)))
    return frame


# --- The model ----------------------------------------------------------------------------------


def _pipeline(frame: pd.DataFrame, *, seed: int) -> Pipeline:
    numeric = [column for column in frame.columns if column != "text"]
    parts: list[tuple[str, Any, Any]] = [("numbers", StandardScaler(), numeric)]
    documents = int((frame["text"].str.len() > 0).sum())
    if documents >= 2:
        vectorizer = TfidfVectorizer(
            analyzer="char",
            ngram_range=(2, 3),
            min_df=2 if documents >= 20 else 1,
            max_features=10_000,
            sublinear_tf=True,
        )
        parts.insert(0, ("text", vectorizer, "text"))
    # liblinear: as good as lbfgs here and twice as fast on a few thousand members.
    classifier = OneVsRestClassifier(LogisticRegression(C=0.5, solver="liblinear", max_iter=2000, random_state=seed))
    return Pipeline([("features", ColumnTransformer(parts)), ("model", classifier)])


def _fit(frame: pd.DataFrame, labels: np.ndarray, *, seed: int) -> Pipeline:
    pipeline = _pipeline(frame, seed=seed)
    with warnings.catch_warnings():
        # A group every training member is in (or none is) is a constant: scikit-learn warns and
        # predicts the constant, which is right.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(frame, labels)
    return pipeline


def _scores(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    scores = pipeline.predict_proba(frame)
    return np.asarray(scores, dtype=float).reshape(len(frame), -1)


def ranking_metrics(rankings: list[list[int]], truths: list[set[int]], *, k: int = TOP) -> dict[str, float]:
    """precision@1, hit rate@k and recall@k of ranked groups against each member's groups."""
    if not rankings:
        return {"precision_at_1": 0.0, f"hit_rate_at_{k}": 0.0, f"recall_at_{k}": 0.0}
    first = [1.0 if ranked[:1] and ranked[0] in truth else 0.0 for ranked, truth in zip(rankings, truths, strict=True)]
    hits = [1.0 if set(ranked[:k]) & truth else 0.0 for ranked, truth in zip(rankings, truths, strict=True)]
    recall = [len(set(ranked[:k]) & truth) / len(truth) for ranked, truth in zip(rankings, truths, strict=True)]
    return {
        "precision_at_1": round(float(np.mean(first)), 4),
        f"hit_rate_at_{k}": round(float(np.mean(hits)), 4),
        f"recall_at_{k}": round(float(np.mean(recall)), 4),
    }


def _not_enough(run: RecommendationRun, message: str) -> RecommendationRun:
    run.status = RunStatus.NOT_ENOUGH_DATA
    run.error = message
    run.save()
    return run


def recommendations_train(*, community: Community, seed: int = 0, now: datetime | None = None) -> RecommendationRun:
    """Train, judge on held-out members, refit, and store each member's top three groups.
    Always returns a run: too little data gives a run that says so, and a failure a run with
    the error (the previous recommendations stay in use)."""
    now = now or timezone.now()
    run = RecommendationRun(community=community, trained_at=now, status=RunStatus.FAILED)
    try:
        return _train(run, community, seed=seed, now=now)
    except Exception as error:  # recorded on the run and shown on the page
        logger.exception("recommendations_train failed for community %s", community.pk)
        run.status = RunStatus.FAILED
        run.error = f"{type(error).__name__}: {error}"[:2000]
        run.pk = None
        run.save()
        return run


def _train(run: RecommendationRun, community: Community, *, seed: int, now: datetime) -> RecommendationRun:
    groups = {
        group.pk: group
        for group in Group.objects.filter(community=community, kind=GroupKind.INTEREST).exclude(
            status=GroupStatus.ARCHIVED
        )
    }
    member_ids = sorted(
        set(
            Membership.objects.filter(group__community=community, status=MembershipStatus.ACTIVE)
            .order_by()
            .values_list("member_id", flat=True)
            .distinct()
        )
    )
    run.n_members = len(member_ids)
    memberships: dict[int, set[int]] = {}
    for member_id, group_id in Membership.objects.filter(
        group_id__in=list(groups), status=MembershipStatus.ACTIVE
    ).values_list("member_id", "group_id"):
        memberships.setdefault(member_id, set()).add(group_id)
    sizes = pd.Series([group_id for found in memberships.values() for group_id in found], dtype="int64").value_counts()
    learned = sorted(int(group_id) for group_id, size in sizes.items() if size >= MIN_PER_GROUP)
    labelled = sorted(member_id for member_id, found in memberships.items() if found & set(learned))
    run.n_labelled, run.n_labels = len(labelled), len(learned)
    if len(learned) < 2 or len(labelled) < MIN_LABELLED:
        return _not_enough(
            run,
            _(
                "Not enough data yet: %(members)d members are in interest sub-groups with at least %(per)d "
                "members each (%(groups)d such groups). Training needs %(min)d members and two groups."
            )
            % {"members": len(labelled), "per": MIN_PER_GROUP, "groups": len(learned), "min": MIN_LABELLED},
        )

    features = member_features(community, member_ids, label_groups=list(groups), now=now)
    column = {group_id: number for number, group_id in enumerate(learned)}
    matrix = np.zeros((len(labelled), len(learned)), dtype=int)
    for row, member_id in enumerate(labelled):
        for group_id in memberships[member_id]:
            if group_id in column:
                matrix[row, column[group_id]] = 1
    train_ids, test_ids, train_y, test_y = train_test_split(
        np.array(labelled), matrix, test_size=TEST_SHARE, random_state=seed, shuffle=True
    )
    model = _fit(features.loc[train_ids], train_y, seed=seed)
    scores = _scores(model, features.loc[test_ids])
    rankings = [[learned[index] for index in np.argsort(-row, kind="stable")] for row in scores]
    truths = [{learned[index] for index in np.flatnonzero(row)} for row in test_y]
    popularity = train_y.sum(axis=0)
    baseline_top = [learned[index] for index in np.argsort(-popularity, kind="stable")]
    metrics: dict[str, Any] = ranking_metrics(rankings, truths)
    metrics["baseline"] = ranking_metrics([baseline_top] * len(truths), truths)
    metrics["baseline_top"] = baseline_top[:TOP]
    metrics["holdout"] = {str(member_id): ranked[:TOP] for member_id, ranked in zip(test_ids, rankings, strict=True)}
    metrics["groups"] = {str(group_id): int(sizes.get(group_id, 0)) for group_id in learned}
    metrics["features"] = {
        "answered_survey": int(features.get("survey:answered", pd.Series(dtype=float)).sum()),
        "with_text": int((features["text"].str.len() > 0).sum()),
        "columns": int(features.shape[1]),
    }
    metrics["seed"] = seed
    run.n_train, run.n_test = len(train_ids), len(test_ids)

    # The model in use learns from everyone labelled; the held-out figures describe it well
    # enough (it has a third more data than the one judged).
    final = _fit(features.loc[labelled], matrix, seed=seed)
    everyone = _scores(final, features)
    rows = []
    for member_id, row in zip(features.index, everyone, strict=True):
        own = memberships.get(member_id, set())
        order = [index for index in np.argsort(-row, kind="stable") if learned[index] not in own][:TOP]
        rows.extend(
            MemberRecommendation(
                member_id=member_id, group_id=learned[index], score=round(float(row[index]), 4), rank=rank
            )
            for rank, index in enumerate(order, start=1)
            if math.isfinite(row[index])
        )
    with transaction.atomic():
        run.status, run.error, run.metrics = RunStatus.OK, "", metrics
        run.save()
        for recommendation in rows:
            recommendation.run = run
        MemberRecommendation.objects.bulk_create(rows, batch_size=2000)
        # Only the newest run's recommendations are kept: the runs' figures stay as history.
        MemberRecommendation.objects.filter(run__community=community).exclude(run=run).delete()
    return run
