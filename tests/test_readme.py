"""The README stays true: the two commands, every setting in the configuration table, and an
opening that claims only what exists."""

from __future__ import annotations

import re
from pathlib import Path

from wirework.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_gives_the_two_commands() -> None:
    assert "make run" in README and "make test" in README


def test_readme_lists_every_setting() -> None:
    missing = [n for n in Settings.model_fields if f"`WIREWORK_{n.upper()}`" not in README]
    assert missing == [], f"add these settings to README's configuration table: {missing}"


# What the project means to grow into, by the package that will hold each (DESIGN.md's layout).
PLANNED = {
    r"\bbots?\b": "bots",
    r"\bknowledge\b": "knowledge",
    r"\bAI\b": "ai",
    r"\bOKRs?\b": "okr",
    r"\bforms?\b": "forms",
    r"\bpages?\b": "pages",
}
PACKAGE = Path(__file__).resolve().parents[1] / "src" / "wirework"


def planned_but_missing(text: str) -> list[str]:
    """The planned things `text` names whose package does not exist yet."""
    return [w for w, package in PLANNED.items() if re.search(w, text) and not (PACKAGE / package).is_dir()]


def test_the_opening_claims_only_what_exists() -> None:
    """The opening paragraphs may name what is planned only where they say it does not exist yet."""
    opening = README.split("\n## ", 1)[0]
    for paragraph in opening.split("\n\n"):
        if planned_but_missing(paragraph):
            assert "exist yet" in paragraph, paragraph
    assert "workflow" in opening.split("\n\n")[1].lower()
