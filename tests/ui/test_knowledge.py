"""The knowledge-base page in a real browser against a real server: create a knowledge base,
upload a file (with its progress bar) and watch it reach `indexed`, see a bad file fail with its
reason, and search: each hit shows the score of each retriever."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.ui.browser import ApiUser, Shots

GUIDE = b"""# Espresso guide

Espresso is brewed by forcing hot water at about nine bars of pressure through finely ground coffee.
A double shot uses 18 grams of coffee and runs for 25 to 30 seconds.
"""


def test_upload_index_search_and_a_bad_file(page: Any, api_user: ApiUser, shots: Shots) -> None:
    api_user.login(page)
    page.goto("/workflows")
    page.get_by_role("link", name="Knowledge").click()
    expect(page.get_by_role("heading", name="Knowledge bases")).to_be_visible()
    page.get_by_role("button", name="New knowledge base").click()
    dialog = page.get_by_role("dialog", name="New knowledge base")
    dialog.get_by_label("Name").fill("Coffee")
    expect(dialog.get_by_label("Embedding model")).to_contain_text("Built-in (all-MiniLM-L6-v2")
    dialog.get_by_label("Chunk size (tokens)", exact=False).first.fill("64")
    dialog.get_by_label("Overlap (tokens)").fill("8")
    dialog.get_by_role("button", name="Create knowledge base").click()
    expect(page).to_have_url(re.compile(r"/knowledge/[0-9a-f-]{36}$"))
    expect(page.get_by_text("Chunks of 64 tokens (overlap 8)")).to_be_visible()
    shots("created")

    page.get_by_label("Upload files").set_input_files(
        [
            {"name": "espresso.md", "mimeType": "text/markdown", "buffer": GUIDE},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 not really"},
        ]
    )
    good = page.locator("tr[data-document='espresso.md']")
    bad = page.locator("tr[data-document='broken.pdf']")
    expect(good.get_by_text("indexed")).to_be_visible(timeout=90_000)
    expect(good).to_contain_text("1 chunk")
    expect(bad.get_by_text("failed")).to_be_visible(timeout=30_000)
    expect(bad.get_by_role("alert")).to_contain_text("broken.pdf")
    shots("documents")

    page.get_by_label("Search query").fill("how long should a double shot run")
    page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("table", name="Search results")
    first = results.locator("tbody tr").first
    expect(first).to_contain_text("espresso.md")
    expect(first.locator("[data-retriever='vector']")).to_have_text(re.compile(r"^0\.\d{4}$"))
    expect(first.locator("[data-retriever='text']")).to_have_text(re.compile(r"^\d+\.\d+(e-\d+)?$"))
    expect(first.locator("[data-retriever='hybrid']")).to_have_text(re.compile(r"^0\.\d{4}$"))
    shots("search")

    # By meaning only: no text score.
    page.get_by_label("Search mode").select_option("vector")
    page.get_by_label("Search query").fill("coffee pressure")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(first.locator("[data-retriever='text']")).to_have_text("—")
    expect(first.locator("[data-retriever='vector']")).to_have_text(re.compile(r"^0\.\d{4}$"))
