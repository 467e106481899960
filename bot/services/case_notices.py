"""The notices staff get when a case reaches them: 新分派 to its assignee, 待分派 to the team leaders.

One wording for the use cases (``bot.services.routing``) and the demo generator's bulk path; the
caller looks up the names and the 签收 clock, these only say what the notice shows.
"""

from __future__ import annotations

from models.anonymity import enterprise_line
from models.case import NAMED_WITH_MATERIALS, Case, reporter_line
from models.clock import CaseClock
from models.notification import Notice
from notifications.texts import case_params, preview


def assigned_notice(
    case: Case,
    *,
    category: str,
    zone: str | None,
    enterprise: str | None,
    accept: CaseClock,
    attachments: int,
) -> Notice:
    """The assignment notice: what the case is, who reported it (never for a clue: neither the
    reporter nor the enterprise; an anonymous appeal's enterprise with why it is shown), and
    when it must be signed for."""
    return Notice.of(
        "inspector_assigned",
        case=case_params(case),
        supervised=case.supervised,
        category=category,
        track_label=case.track.label,
        zone=zone,
        enterprise=enterprise_line(case, enterprise),
        amount_involved=case.amount_involved_yuan,
        reporter_line=reporter_line(
            case.track, anonymous=case.anonymous, named=NAMED_WITH_MATERIALS
        ),
        accept_due=accept.due_at,
        accept_provisional=accept.provisional,
        description=preview(case.description),
        attachments=attachments,
    )


def waiting_notice(
    case: Case,
    *,
    team: str,
    category: str,
    zone: str | None,
    reason: str | None,
    accept: CaseClock,
) -> Notice:
    """The notice to a team's leaders that a case waits in their queue to be assigned."""
    return Notice.of(
        "team_case_waiting",
        case=case_params(case),
        team=team,
        category=category,
        track_label=case.track.label,
        zone=zone,
        reason=reason,
        accept_due=accept.due_at,
        accept_provisional=accept.provisional,
        description=preview(case.description),
    )
