"""The README stays true: the two commands, and every setting in the configuration table."""

from __future__ import annotations

from pathlib import Path

from wirework.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_gives_the_two_commands() -> None:
    assert "make run" in README and "make test" in README


def test_readme_lists_every_setting() -> None:
    missing = [n for n in Settings.model_fields if f"`WIREWORK_{n.upper()}`" not in README]
    assert missing == [], f"add these settings to README's configuration table: {missing}"
