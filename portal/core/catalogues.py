"""The portal's translation catalogues (locale/<lang>/LC_MESSAGES/django.po and .mo), in pure Python.

`make messages` extracts every marked string from the code and the templates, merges it into the Dutch and
French catalogues (new strings come in empty, changed ones fuzzy, for a translator to review) and compiles them.
The same extraction checks, in the tests, that the committed catalogues are complete and compiled: no GNU
gettext is needed anywhere.
"""

import datetime
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message, TranslationError
from babel.messages.extract import extract, extract_python
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po
from django.conf import settings
from django.utils.translation.template import templatize

DOMAIN = "django"
TRANSLATED = ("nl", "fr")
# The same marker names Django's makemessages gives xgettext.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
COMMENT_TAGS = ("Translators:",)
TEMPLATE_SUFFIXES = (".html", ".txt")
# A fixed date in the headers: the catalogues change only when their messages do.
CREATED = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


def base_dir() -> Path:
    return Path(settings.BASE_DIR)


def source_files() -> list[Path]:
    """The portal's code and templates, in a stable order."""
    root = base_dir()
    code = [path for path in (root / "portal").rglob("*.py") if "migrations" not in path.parts]
    templates = [path for path in (root / "templates").rglob("*") if path.suffix in TEMPLATE_SUFFIXES]
    templates += [path for path in (root / "portal").rglob("templates/**/*") if path.suffix in TEMPLATE_SUFFIXES]
    return sorted(code) + sorted(templates)


def _template_as_python(fileobj, keywords, comment_tags, options) -> Iterator:
    """A Django template turned into the gettext calls it makes (Django's own `templatize`), then read as Python."""
    source = fileobj.read().decode("utf-8")
    python = templatize(source, origin=options.get("origin", ""))
    # Each call is on one line (strings are written with repr); the template's indentation is not Python's.
    python = "\n".join(line.lstrip() for line in python.split("\n"))
    return extract_python(io.BytesIO(python.encode("utf-8")), keywords, comment_tags, {})


def messages_extract() -> Catalog:
    """Every marked string of the portal, with where it comes from."""
    catalog = Catalog(domain=DOMAIN, project="portal", creation_date=CREATED, fuzzy=False)
    root = base_dir()
    for path in source_files():
        method = extract_python if path.suffix == ".py" else _template_as_python
        relative = path.relative_to(root).as_posix()
        with path.open("rb") as fileobj:
            found = extract(
                method,  # type: ignore[arg-type]
                fileobj,
                keywords=KEYWORDS,
                comment_tags=COMMENT_TAGS,
                options={"origin": relative},
                strip_comment_tags=True,
            )
            for lineno, message, comments, context in found:
                catalog.add(message, None, [(relative, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    return base_dir() / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def po_read(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(
            locale=language,
            domain=DOMAIN,
            project="portal",
            copyright_holder="the portal's authors",
            creation_date=CREATED,
            fuzzy=False,
        )
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=language, domain=DOMAIN)


def po_bytes(catalog: Catalog) -> bytes:
    output = io.BytesIO()
    write_po(output, catalog, ignore_obsolete=True, include_previous=False, width=100)
    return output.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    output = io.BytesIO()
    write_mo(output, catalog, use_fuzzy=False)
    return output.getvalue()


def catalogues_update() -> dict[str, int]:
    """Merge the sources into each catalogue and compile it; how many messages still need a translator."""
    template = messages_extract()
    waiting = {}
    for language in TRANSLATED:
        catalog = po_read(language)
        catalog.update(template)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        po_path(language).parent.mkdir(parents=True, exist_ok=True)
        po_path(language).write_bytes(po_bytes(catalog))
        written = po_read(language)
        mo_path(language).write_bytes(mo_bytes(written))
        waiting[language] = len(list(problems_in(written)))
    return waiting


@dataclass(frozen=True)
class Problem:
    language: str
    msgid: str
    what: str

    def __str__(self) -> str:
        return f"{self.language}: {self.what}: {self.msgid!r}"


def _key(message: Message) -> tuple[str, str | None]:
    msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
    return msgid, message.context


def problems_in(catalog: Catalog) -> Iterator[Problem]:
    """Messages of one catalogue that are empty, fuzzy or whose placeholders differ from the English."""
    language = str(catalog.locale)
    for message in catalog:
        if not message.id:
            continue  # the header
        msgid = _key(message)[0]
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(strings):
            yield Problem(language, msgid, "not translated")
        elif message.fuzzy:
            yield Problem(language, msgid, "fuzzy (to review)")
    for message, errors in catalog.check():
        for error in errors:
            if isinstance(error, TranslationError):
                yield Problem(language, _key(message)[0], f"placeholders: {error}")


def catalogues_check() -> list[Problem]:
    """Everything that keeps the catalogues from matching the sources: for the tests and `make messages --check`."""
    template = messages_extract()
    wanted = {_key(message) for message in template if message.id}
    found: list[Problem] = []
    for language in TRANSLATED:
        catalog = po_read(language)
        have = {_key(message) for message in catalog if message.id}
        found += [Problem(language, msgid, "missing from the catalogue") for msgid, _ in sorted(wanted - have, key=str)]
        found += [Problem(language, msgid, "no longer in the sources") for msgid, _ in sorted(have - wanted, key=str)]
        found += list(problems_in(catalog))
        if not mo_path(language).exists() or _compiled(mo_path(language).read_bytes()) != _compiled(mo_bytes(catalog)):
            found.append(Problem(language, str(mo_path(language).name), "compiled catalogue differs from the .po"))
    return found


def _compiled(data: bytes) -> dict:
    catalog = read_mo(io.BytesIO(data))
    return {_key(message): message.string for message in catalog if message.id}
