"""Figures of a long run (chaos, fuzzing) written into the document that quotes them."""

from __future__ import annotations

import re
from pathlib import Path


def record_figures(document: Path, name: str, figures: str) -> None:
    """Replace what lies between ``<!-- {name}-figures:begin -->`` and its end marker."""
    section = re.compile(
        rf"(<!-- {name}-figures:begin -->\n).*?(<!-- {name}-figures:end -->)", re.DOTALL
    )
    updated, found = section.subn(lambda match: match[1] + figures + match[2], document.read_text())
    assert found == 1, f"{document} has no {name}-figures markers"
    document.write_text(updated)
