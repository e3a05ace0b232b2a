"""MkDocs hook: lay the package out as it is installed, for the API reference.

In the repository ``fw_rl.envs``, ``fw_rl.agents`` and ``fw_rl.scripts`` live in ``envs/``,
``agents/`` and ``scripts/`` (pyproject's ``package-dir``), which griffe, the reader of
mkdocstrings, cannot follow. Before a build this copies the Python files into
``build/api/fw_rl/`` in the installed layout (copies: griffe follows links back to where
they point); ``mkdocs.yml`` points griffe at ``build/api``. It also shows the docstrings'
Sphinx roles as code.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALLED_AS = {"envs": "envs", "agents": "agents", "scripts": "scripts"}


ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):<code>(~?)([^<]*)</code>")


def on_page_content(html: str, **_) -> str:
    """The docstrings' Sphinx roles (``:class:`~fw_rl.X```), which mkdocstrings leaves as
    text before the code, shown as the code alone (``~``: the last name only)."""
    return ROLE.sub(lambda m: f"<code>{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}</code>", html)


def lay_out() -> None:
    package = ROOT / "build" / "api" / "fw_rl"
    shutil.rmtree(package, ignore_errors=True)
    python_only = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "fw_rl", package, ignore=python_only)
    for name, folder in INSTALLED_AS.items():
        shutil.copytree(ROOT / folder, package / name, ignore=python_only)


# now, while MkDocs reads mkdocs.yml: mkdocstrings resolves its `paths` when it is set up,
# before any hook event, and skips a folder that does not exist yet (a fresh clone)
lay_out()
