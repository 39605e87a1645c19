"""The CLI's own error: what the user asked for cannot be done as asked."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""
