"""An accessibility check for pages in Chromium: axe-core, the engine browsers' own audits use.

`assert_accessible(page)` runs axe's WCAG 2.1 A and AA rules (and its best practices) on the page as it is
now, and fails listing each violation with the elements it found, so a test can check a page after each
state a person sees (a form with its errors, an open fold, the phone width).
"""
from axe_playwright_python.sync_playwright import Axe

RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
         "resultTypes": ["violations"]}

_axe = Axe()


def violations(page, context=None):
    """axe's violations on the page (or the part CONTEXT selects), as plain dicts."""
    return _axe.run(page, context=context, options=RULES).response["violations"]


def describe(found):
    lines = []
    for violation in found:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}")
    return "\n".join(lines)


def assert_accessible(page, context=None):
    found = violations(page, context)
    assert not found, f"axe found {len(found)} accessibility violation(s) on {page.url}:\n{describe(found)}"
