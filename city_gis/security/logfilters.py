"""Logging filter that keeps API tokens, passwords and Authorization headers out of log records."""

from __future__ import annotations

import logging
import re

# token=…, password=…, api_key=… in query strings/forms/JSON-ish text, and Authorization header values.
_PATTERNS = [
    (re.compile(r"(?i)\b((?:api_?)?key|token|password|passwd|secret)(=|\"?\s*:\s*\"?)([^&\s\"',;]+)"), r"\1\2[REDACTED]"),
    (re.compile(r"(?i)\b((?:HTTP_)?AUTHORIZATION['\"]?\s*[:=]\s*['\"]?)(\w+)\s+[^\s'\",;]+"), r"\1\2 [REDACTED]"),
]


def redact(text: str) -> str:
    """`text` with secret values replaced by [REDACTED]."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message (args merged in) with secrets redacted; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
