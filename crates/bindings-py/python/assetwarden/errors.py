"""The exceptions Assetwarden raises: every one is an ``AssetwardenError``."""

from __future__ import annotations

from typing import Any


class AssetwardenError(Exception):
    """Base of every error Assetwarden raises."""


class PolicyError(AssetwardenError):
    """A policy document is invalid. ``diagnostics`` lists every problem; ``file``, ``line``
    and ``column`` locate the first."""

    def __init__(self, message: str, diagnostics: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.diagnostics: list[dict[str, Any]] = list(diagnostics or [])
        first = self.diagnostics[0] if self.diagnostics else {}
        self.file: str | None = first.get("file")
        self.line: int | None = first.get("line")
        self.column: int | None = first.get("column")


class SourceError(AssetwardenError):
    """A resource record could not be read; the message names it."""


class RuleError(AssetwardenError):
    """A rule could not be loaded or failed to run."""

    def __init__(self, message: str, rule_id: str | None = None) -> None:
        super().__init__(message)
        self.rule_id = rule_id


class AwsError(AssetwardenError):
    """An AWS API call failed; ``code`` is AWS's error code (``AccessDenied``, ...)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


__all__ = ["AssetwardenError", "PolicyError", "SourceError", "RuleError", "AwsError"]
