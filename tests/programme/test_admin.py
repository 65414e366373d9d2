"""The Django admin pages of the programme's models."""

from __future__ import annotations

import pytest
from django.urls import reverse

from programme import selectors, services
from programme.models import Nomination, PeerVote, VotingRound
from tests.programme.conftest import member_in, online

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_every_programme_model_has_working_admin_pages(admin_client, community, design):
    nominee = member_in(design, "候选人")
    for monday in selectors.complete_weeks(community):
        online(nominee, design, monday, 16)
    voting_round = services.round_create(group=design)
    services.vote_cast(
        voting_round=voting_round, nominee=voting_round.nominations.get(), voter=member_in(design), approve=True
    )
    for model in (VotingRound, Nomination, PeerVote):
        name = f"admin:programme_{model._meta.model_name}"
        assert admin_client.get(reverse(f"{name}_changelist")).status_code == 200, model
        assert admin_client.get(reverse(f"{name}_changelist"), {"q": "候选"}).status_code == 200, model
        assert admin_client.get(reverse(f"{name}_add")).status_code == 200, model
        instance = model.objects.get()
        assert admin_client.get(reverse(f"{name}_change", args=[instance.pk])).status_code == 200, model
