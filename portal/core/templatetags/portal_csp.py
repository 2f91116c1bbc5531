"""Template helpers for the Content-Security-Policy."""

import re

from django import template

register = template.Library()

_STYLE_TAG = re.compile(r"<style(?=[\s>])", re.IGNORECASE)


@register.filter
def style_nonce(html: str, nonce: object) -> str:
    """A stored HTML document shown in a `srcdoc` frame, its <style> elements given this response's nonce.

    A `srcdoc` document inherits the page's policy, so its own <style> elements need the nonce; the
    document is otherwise unchanged (the agreement exactly as sent). The result is still escaped.
    """
    if nonce is None:  # no CSP middleware; a LazyNonce is falsy until first read, so test for None
        return html
    return _STYLE_TAG.sub(f'<style nonce="{nonce}"', html)
