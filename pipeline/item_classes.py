"""Outlook message classes mapped to Trawl's item types, shared by the PST and MSG readers."""

from __future__ import annotations

# Longest prefix wins; comparison is case-insensitive. Anything else that starts with IPM is
# kept as an email-like item, with its message class recorded in item_class.
MESSAGE_CLASS_TYPES = (
    ("IPM.Schedule.Meeting", "email"),   # meeting requests and replies travel as email
    ("IPM.Appointment", "appointment"),
    ("IPM.OLE.CLASS.{00061055-0000-0000-C000-000000000046}", "appointment"),  # an exception
    ("IPM.Microsoft", "system"),         # free/busy data, views and other Outlook internals
    ("IPM.Contact", "contact"),
    ("IPM.DistList", "distribution_list"),
    ("IPM.Task", "task"),
    ("IPM.TaskRequest", "email"),
    ("IPM.StickyNote", "note"),
    ("IPM.Activity", "journal"),
    ("IPM.Post", "post"),
    ("IPM.Note", "email"),
    ("REPORT.IPM", "email"),             # delivery and read receipts
)


def item_type_for(message_class: str | None) -> str:
    lowered = (message_class or "IPM.Note").lower()
    best = max((prefix for prefix, _ in MESSAGE_CLASS_TYPES
                if lowered.startswith(prefix.lower())), key=len, default=None)
    if best is None:
        return "email"
    return dict(MESSAGE_CLASS_TYPES)[best]
