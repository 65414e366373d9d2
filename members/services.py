from django.db import transaction

from members.models import Operator
from subgroups.models import Community


@transaction.atomic
def operator_add(*, community: Community, user) -> Operator:
    operator, _created = Operator.objects.get_or_create(community=community, user=user)
    return operator
