"""Where things live in the repository, and the one canonical repository URL.

The repository URL and branch are defined once, in ``_config.yml`` (Jupyter
Book's ``repository`` section, which also drives the launch buttons). The
Colab setup cell is generated from it; the README and package metadata are
checked against it by the tests.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks"
BOOK = ROOT / "book"
PACKAGE = ROOT / "src" / "attnbook"
LANGUAGES = ("ko", "en")
BUILD = ROOT / "_build"


@dataclass(frozen=True)
class Repository:
    owner: str
    name: str
    branch: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"

    @property
    def archive_url(self) -> str:
        """What Colab installs attnbook from: a zip of the branch, no git needed."""
        return f"{self.url}/archive/refs/heads/{self.branch}.zip"

    def colab_url(self, language: str, slug: str) -> str:
        return (
            f"https://colab.research.google.com/github/{self.owner}/{self.name}"
            f"/blob/{self.branch}/book/{language}/{slug}.ipynb"
        )


@functools.cache
def repository() -> Repository:
    """The canonical repository, read from ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", url)
    if not match:
        raise ValueError(f"_config.yml: repository.url must be a GitHub URL, got {url!r}")
    return Repository(match[1], match[2], config["repository"]["branch"])


def slugs() -> list[str]:
    """The chapters, in order: one bilingual source notebook each."""
    return sorted(path.stem for path in SOURCES.glob("*.ipynb"))


def source_path(slug: str) -> Path:
    return SOURCES / f"{slug}.ipynb"


def reader_path(language: str, slug: str) -> Path:
    return BOOK / language / f"{slug}.ipynb"
