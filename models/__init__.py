"""Lianka's domain: tables, states, rules. No chat framework here.

Importing this package registers every table on ``SQLModel.metadata``.
"""

from models.account import AccessEvent, AccessKind, ConsoleAccount, ConsoleSession
from models.anchor import AuditAnchor
from models.assist import CaseAssist
from models.attachment import Attachment, Blob, MediaKind
from models.audit_run import AuditRun, AuditRunState
from models.card import Card, CardScan, CardStatus, PrintBatch
from models.case import (
    ALLOWED,
    OPEN_STATUSES,
    Case,
    CaseCounter,
    CaseStatus,
    Outcome,
    Satisfaction,
)
from models.clock import CaseClock, ClockKind, ClockStage, ClockState
from models.disposition import ClueDisposition
from models.document import StoredDocument
from models.enterprise import Enterprise
from models.event import Actor, ActorType, CaseEvent, EventKind
from models.fsm import FsmRecord
from models.keycheck import KeyCheck
from models.notification import Notification, NotificationStatus, RecipientKind
from models.org import Category, Track, Zone
from models.processed_update import ProcessedUpdate
from models.rate_limit import RateCounter
from models.rectification import Rectification, RectificationState
from models.relay import RelayMessage, RelayStatus
from models.reporter import CaseFollower, Reporter, ReporterContact
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.schedule import CalendarDay, CalendarYear
from models.search import CaseSearch
from models.team import AssignmentMode, Inspector, InviteCode, Role, Team, TeamCategory, TeamZone
from models.web_draft import WebDraft

__all__ = [
    "ALLOWED",
    "OPEN_STATUSES",
    "AccessEvent",
    "AccessKind",
    "Actor",
    "ActorType",
    "ApprovalRequest",
    "AssignmentMode",
    "Attachment",
    "AuditAnchor",
    "AuditRun",
    "AuditRunState",
    "Blob",
    "CalendarDay",
    "CalendarYear",
    "Card",
    "CardScan",
    "CardStatus",
    "Case",
    "CaseAssist",
    "CaseClock",
    "CaseCounter",
    "CaseEvent",
    "CaseFollower",
    "CaseSearch",
    "CaseStatus",
    "Category",
    "ClockKind",
    "ClockStage",
    "ClockState",
    "ClueDisposition",
    "ConsoleAccount",
    "ConsoleSession",
    "Enterprise",
    "EventKind",
    "FsmRecord",
    "Inspector",
    "InviteCode",
    "KeyCheck",
    "MediaKind",
    "Notification",
    "NotificationStatus",
    "Outcome",
    "PrintBatch",
    "ProcessedUpdate",
    "RateCounter",
    "RecipientKind",
    "Rectification",
    "RectificationState",
    "RelayMessage",
    "RelayStatus",
    "Reporter",
    "ReporterContact",
    "RequestKind",
    "RequestStatus",
    "Role",
    "Satisfaction",
    "StoredDocument",
    "Team",
    "TeamCategory",
    "TeamZone",
    "Track",
    "WebDraft",
    "Zone",
]
