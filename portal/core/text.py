"""Text typed by people: control characters (NUL and the like) are refused with one message everywhere."""

import re
from typing import Annotated

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# C0 and C1 control characters and DEL; a paragraph may keep tabs and line breaks.
_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_IN_PARAGRAPH = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Marked here, translated where it is raised: `_(CONTROL_REFUSED)` (the constant stays plain text).
CONTROL_REFUSED = gettext_noop(
    "This text contains an invisible control character (such as NUL): remove it and send it again."
)


def control_characters_in(value: str, *, multiline: bool = False) -> bool:
    return bool((_IN_PARAGRAPH if multiline else _IN_LINE).search(value))


def text_checked(value: str, *, multiline: bool = False) -> str:
    """The text as typed; ValueError with a plain message when it holds a control character."""
    if control_characters_in(value, multiline=multiline):
        raise ValueError(_(CONTROL_REFUSED))
    return value


@deconstructible
class NoControlCharacters:
    """A form field validator: the same rule and message for every text input of the portal."""

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value: object) -> None:
        if isinstance(value, str) and control_characters_in(value, multiline=self.multiline):
            raise ValidationError(_(CONTROL_REFUSED), code="control_character")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoControlCharacters) and other.multiline == self.multiline


def _schema_checked(multiline: bool):
    def check(value: str) -> str:
        if control_characters_in(value, multiline=multiline):
            raise PydanticCustomError("control_character", _(CONTROL_REFUSED))
        return value

    return AfterValidator(check)


# The same rules as JSON Schema patterns, so that the API's document says what it accepts.
LINE_CHARACTERS = r"[^\u0000-\u001f\u007f-\u009f]"
PARAGRAPH_CHARACTERS = r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]"

# For API schemas: a one-line text (names, titles, codes, e-mail addresses) and a text that may span lines.
Line = Annotated[str, _schema_checked(False), Field(json_schema_extra={"pattern": f"^{LINE_CHARACTERS}*$"})]
Paragraph = Annotated[str, _schema_checked(True), Field(json_schema_extra={"pattern": f"^{PARAGRAPH_CHARACTERS}*$"})]
