"""Chromium for the browser tests, and the accessibility gate that checks every page they open with axe-core.

The gate: every browser context a test opens gets axe-core (vendored, pinned below) in each of its documents.
When a page has loaded, the next Playwright call the test makes first runs axe on it against WCAG 2.2 AA
(`WCAG_TAGS`); a violation fails the test there, naming the rule, the elements and the page. Pages the portal
does not make (Django's admin, Swagger UI) are left out: see `NOT_OURS`.
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_VERSION = "4.14.1"
AXE_JS = Path(__file__).parent / "vendor" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Django's admin (raw data for the reseller's own staff) and the API's Swagger UI are third-party pages.
NOT_OURS = re.compile(r"^https?://[^/]+/(admin/|api/v1/docs)")
# The frames of our pages show an e-mail in the development mailbox: e-mails are checked on their own.
AXE_RUN = r"""async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
                                           iframes: false});
  const found = results.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary}))}));
  // What axe leaves to review: a field tied (aria-describedby, -labelledby, -errormessage, label for) to ids
  // that are not in the page. Its help or its error is then never read with it.
  const broken = [];
  for (const element of document.querySelectorAll("[aria-describedby], [aria-labelledby], [aria-errormessage], label[for]")) {
    for (const attribute of ["aria-describedby", "aria-labelledby", "aria-errormessage", "for"]) {
      for (const id of (element.getAttribute(attribute) || "").split(/\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) {
          broken.push({target: `${element.tagName.toLowerCase()}[${attribute}~="${id}"]`, html: element.outerHTML,
                       summary: `${attribute} names #${id}, which is not in the page`});
        }
      }
    }
  }
  if (broken.length) {
    found.push({id: "idref-missing", impact: "serious", help: "Ids a field is tied to must exist", nodes: broken});
  }
  return found;
}"""


class AccessibilityViolation(AssertionError):
    pass


def axe_violations(page) -> list[dict[str, Any]]:
    """What axe-core finds on the page as it is now (axe is loaded first if the page does not have it)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))  # a document without our policy (an e-mail); pages have it already
    return page.evaluate(AXE_RUN, WCAG_TAGS)


def violations_report(violations: list[dict[str, Any]], where: str) -> str:
    lines = [f"{len(violations)} accessibility violation(s) (axe-core {AXE_VERSION}, WCAG 2.2 AA) on {where}:"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html'][:160]}")
            lines.append("      " + (node["summary"] or "").replace("\n", "\n      "))
        if len(violation["nodes"]) > 5:
            lines.append(f"    … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def where(page) -> str:
    viewport = page.viewport_size or {"width": "?", "height": "?"}
    language = page.evaluate("() => document.documentElement.lang")
    return f"{page.url} at {viewport['width']}×{viewport['height']} px, lang={language!r}"


def assert_accessible(page) -> None:
    """Fail with axe-core's findings, rule by rule, if the page as it is now has any."""
    violations = axe_violations(page)
    if violations:
        raise AccessibilityViolation(violations_report(violations, where(page)))


@dataclass
class AxeGate:
    """Checks each page of its contexts once it has loaded, before the test's next step (see the module)."""

    pending: list[tuple[Any, int]] = field(default_factory=list)
    navigations: dict[int, int] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    busy: bool = False

    def context_opened(self, context) -> None:
        context.add_init_script(path=AXE_JS)
        context.on("page", self.page_opened)

    def page_opened(self, page) -> None:
        key = id(page)
        self.navigations[key] = 0

        def navigated(frame) -> None:
            if frame == page.main_frame:
                self.navigations[key] += 1

        page.on("framenavigated", navigated)
        page.on("load", lambda: self.pending.append((page, self.navigations[key])))

    def check_pending(self) -> None:
        if self.busy or not self.pending:
            return
        self.busy = True
        try:
            while self.pending:
                page, navigation = self.pending.pop(0)
                # A page already left (closed, or navigated again within one step of the test) is not there to see.
                if page.is_closed() or self.navigations[id(page)] != navigation or NOT_OURS.match(page.url):
                    continue
                if page.evaluate("() => document.readyState") != "complete":
                    continue
                assert_accessible(page)
                self.checked.append(page.url)
        finally:
            self.busy = False


_gates: list[AxeGate] = []


def _hooked_sync(original):
    def _sync(self, awaitable):
        __tracebackhide__ = True
        for gate in _gates:
            if gate.pending and not gate.busy:
                try:
                    gate.check_pending()
                except BaseException:
                    if hasattr(awaitable, "close"):
                        awaitable.close()  # the test's own step does not run: the page failed before it
                    raise
        return original(self, awaitable)

    return _sync


@contextmanager
def axe_gate(monkeypatch) -> Iterator[AxeGate]:
    """While it lasts, every browser context opened gets the gate (see the module)."""
    from playwright._impl._sync_base import SyncBase
    from playwright.sync_api import Browser

    gate = AxeGate()
    original_new_context = Browser.new_context

    def new_context(self, *args, **kwargs):
        context = original_new_context(self, *args, **kwargs)
        gate.context_opened(context)
        return context

    monkeypatch.setattr(Browser, "new_context", new_context)
    if not _gates:
        monkeypatch.setattr(SyncBase, "_sync", _hooked_sync(SyncBase._sync))
    _gates.append(gate)
    try:
        yield gate
    finally:
        _gates.remove(gate)


def active_gate() -> AxeGate:
    """The gate of the browser fixture in use: what it has checked, for a test that walks the pages."""
    return _gates[-1]


def chromium_launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def html_page_check(page, html: str, name: str) -> None:
    """Show an HTML document (an e-mail) in the page and check it as a page of the portal is checked."""
    page.set_content(html, wait_until="load")
    violations = axe_violations(page)
    if violations:
        raise AccessibilityViolation(violations_report(violations, f"{name} ({json.dumps(page.viewport_size)})"))
