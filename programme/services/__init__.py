"""Writes of the admin programme. Reads (online hours, the team's shape, the rotation preview,
round results) are in ``programme.selectors``."""

from programme.services.assessments import assessments_compute, assessments_compute_all
from programme.services.rotation import rotation_run, rotation_term
from programme.services.rounds import nominee_appoint, round_close, round_create, rounds_close_due, vote_cast

__all__ = [
    "assessments_compute",
    "assessments_compute_all",
    "nominee_appoint",
    "rotation_run",
    "rotation_term",
    "round_close",
    "round_create",
    "rounds_close_due",
    "vote_cast",
]
