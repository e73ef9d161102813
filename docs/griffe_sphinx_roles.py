"""A griffe extension for the API reference: Sphinx cross-reference roles as code.

simframe's docstrings name other objects the reStructuredText way (``:class:`~simframe.Slot```);
mkdocstrings renders docstrings as Markdown, where such a role would show verbatim. This
extension, loaded by ``mkdocs.yml``, rewrites each role to a code span of the name as Sphinx
would display it (``Slot`` for ``~simframe.Slot``), so that docstrings read well both in
``help()`` and on the documentation site.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|data|exc|obj):`(~?)([^`]+)`")


def as_code(match: re.Match[str]) -> str:
    """The role's target as Sphinx shows it: the last dotted part after ``~``, else in full."""
    shortened, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if shortened else target}`"


class SphinxRoles(griffe.Extension):
    """Rewrites Sphinx roles in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(as_code, obj.docstring.value)
