"""Exports room: disclosure control and its audit, funder profiles, workbooks, delivery.

Plain Python (no Dagster, no other room of ours but ``lavoro_debole.settings``): the
orchestration wraps these functions in assets, checks and schedules.
"""

from lavoro_debole.exports.audit import AuditCell, AuditResult, audit_universe
from lavoro_debole.exports.delivery import (
    DeliveryError,
    DeliveryResult,
    SmtpSettings,
    deliver_workbook,
    smtp_settings_from_env,
)
from lavoro_debole.exports.disclosure import DEFAULT_K, Protection, protect
from lavoro_debole.exports.model import DisclosureError, Universe
from lavoro_debole.exports.profiles import (
    PROFILES_DIR,
    FunderProfile,
    ProfileError,
    load_profile,
    load_profiles,
)
from lavoro_debole.exports.publish import (
    AuditFailedError,
    ExportResult,
    build_funder_export,
    protect_for,
    publish_indicators,
    read_indicator_values,
)

__all__ = [
    "DEFAULT_K",
    "PROFILES_DIR",
    "AuditCell",
    "AuditFailedError",
    "AuditResult",
    "DeliveryError",
    "DeliveryResult",
    "DisclosureError",
    "ExportResult",
    "FunderProfile",
    "ProfileError",
    "Protection",
    "SmtpSettings",
    "Universe",
    "audit_universe",
    "build_funder_export",
    "deliver_workbook",
    "load_profile",
    "load_profiles",
    "protect",
    "protect_for",
    "publish_indicators",
    "read_indicator_values",
    "smtp_settings_from_env",
]
