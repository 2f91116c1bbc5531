"""Which language a page, an API answer or an e-mail is in, and the switcher that changes it.

A page: the signed-in person's profile, else the switcher's cookie, else the browser's Accept-Language.
An API call: its Accept-Language, else the profile (a script says what it reads). Anything unsupported: English.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation.trans_real import parse_accept_lang_header

DEFAULT = "en"
CODES = tuple(code for code, _name in settings.LANGUAGES)


def language_clean(value: str | None) -> str | None:
    """`value` as one of the portal's languages ('nl-BE' → 'nl'), or None."""
    if not value:
        return None
    try:
        return translation.get_supported_language_variant(value.strip().lower())
    except LookupError:
        return None


def language_from_header(request: HttpRequest) -> str | None:
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code == "*":
            break
        language = language_clean(code)
        if language:
            return language
    return None


def language_of_request(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    profile = language_clean(user.language) if user is not None and user.is_authenticated else None
    if request.path.startswith("/api/"):
        return language_from_header(request) or profile or DEFAULT
    cookie = language_clean(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
    return profile or cookie or language_from_header(request) or DEFAULT


class LanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware (Content-Language, Vary), choosing as above; it runs after authentication."""

    def process_request(self, request: HttpRequest) -> None:
        translation.activate(language_of_request(request))
        request.LANGUAGE_CODE = translation.get_language()


def language_set(request: HttpRequest) -> HttpResponseRedirect | HttpResponseNotAllowed:
    """The header's switcher: remember the language (cookie, and the profile when signed in), back to the page."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    language = language_clean(request.POST.get("language")) or DEFAULT
    target = request.POST.get("return_to", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    user = request.user
    if user.is_authenticated and getattr(user, "language", language) != language:
        user.language = language  # type: ignore[union-attr]
        user.save(update_fields=["language"])
    response = HttpResponseRedirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )
    return response
