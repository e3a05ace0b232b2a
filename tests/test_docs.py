"""The documentation site builds with no warning (``mkdocs build --strict``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_with_no_warning(tmp_path):
    pytest.importorskip("mkdocstrings")
    shutil.rmtree(ROOT / "build" / "api", ignore_errors=True)  # as in a fresh clone
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "fw_rl.agents.api.PPO" in api and "predict" in api  # the reference was generated
    assert (tmp_path / "site" / "results" / "index.html").is_file()
    # the docstrings' Sphinx roles are shown as code, not as ":class:" text
    for page in (tmp_path / "site" / "reference").glob("*/index.html"):
        assert not re.search(r":(class|func|meth|mod|attr):<code>", page.read_text()), page
    assert "<code>TrainingError</code>" in api


def test_every_guide_page_is_in_the_navigation():
    """A page left out of ``nav`` is built but reachable by no menu."""

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    listed = set(re.findall(r"'([\w/.-]+\.md)'", str(nav)))
    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").glob("*.md")}
    pages |= {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs" / "guide").glob("*.md")}
    pages |= {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs" / "reference").glob("*.md")}
    assert pages <= listed, sorted(pages - listed)


def test_a_broken_link_fails_the_build(tmp_path):
    """--strict is what makes the build above a test: a page with a dead link fails it."""
    pytest.importorskip("mkdocs")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](no_such_page.md)\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\nstrict: true\n")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0 and "no_such_page.md" in done.stderr
