"""Rules for free text we store and publish: length limits, no control characters in, XML-safe out.

- Input: `reject_control_chars` (a DRF/Django validator) refuses C0 control characters other than tab,
  newline and carriage return, DEL, and lone surrogates — none belongs in a description or a note, and
  XML 1.0 cannot carry them. `SafeCharField` is a DRF CharField with that validator.
- Output: `xml_text` removes what XML 1.0 forbids, for text that was stored before the input rule (or came
  through another path) and must still render as well-formed XML (Open311).
- Limits: NOTE_MAX_LENGTH / DESCRIPTION_MAX_LENGTH / SHORT_TEXT_MAX_LENGTH are the one set of numbers that the
  serializers and the database CHECK constraints (city_gis.cases.models) share.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from rest_framework import serializers

NOTE_MAX_LENGTH = 2000  # transition notes / reasons / results: kept forever in the append-only history
DESCRIPTION_MAX_LENGTH = 4000  # case descriptions
SHORT_TEXT_MAX_LENGTH = 200  # codes, names, addresses and other one-line values

# XML 1.0 Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# On input we are stricter: DEL is legal XML but never meaningful text.
_INPUT_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: object) -> str:
    """`value` as text with every character XML 1.0 forbids removed (ElementTree escapes the rest)."""
    return _XML_FORBIDDEN.sub("", str(value))


def has_control_chars(value: str) -> bool:
    """True if `value` holds a character we refuse in stored text."""
    return bool(_INPUT_FORBIDDEN.search(value))


def reject_control_chars(value: str) -> None:
    """Validator: refuse control characters (other than tab/newline/CR) with a 400 naming the field."""
    if isinstance(value, str) and has_control_chars(value):
        raise serializers.ValidationError(_("不能包含控制字符。"))


class SafeCharField(serializers.CharField):
    """A CharField that also refuses control characters (always give it a max_length)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.validators.append(reject_control_chars)
