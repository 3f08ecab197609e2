"""The current time, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware."""
    return datetime.now(UTC)


def utcnow_seconds() -> datetime:
    """The current time in UTC to the second (one instant for a PDF's Info and XMP, and for records people read)."""
    return utcnow().replace(microsecond=0)
