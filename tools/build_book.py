"""Build both editions of the book and assemble the site.

    python -m tools.build_book [--lang ko|en]

The Korean edition uses ``_config.yml`` and ``_toc.yml``; the English edition
merges ``_config.en.yml`` over ``_config.yml`` and uses ``_toc.en.yml``. Each is
built on its own (one toc for both would give the English pages Korean UI text
and number exercises across languages), with warnings as errors. The site is
``_build/site``: the landing page, ``ko/`` and ``en/``.

The reader notebooks are built as they are committed; nothing is executed here
(``python -m tools.notebooks generate`` does that).
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tools.project import BOOK, BUILD, LANGUAGES, ROOT

SITE = BUILD / "site"
CONFIGS = {"ko": ("_config.yml", "_toc.yml"), "en": ("_config.en.yml", "_toc.en.yml")}


def merged(base: dict, override: dict) -> dict:
    """``override`` laid over ``base``, recursively for nested mappings."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def config_path(language: str) -> Path:
    """The configuration file of one edition (written to _build/ for the English one)."""
    config, _ = CONFIGS[language]
    if language == "ko":
        return ROOT / config
    base = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    override = yaml.safe_load((ROOT / config).read_text(encoding="utf-8"))
    config = merged(base, override)
    # Jupyter Book resolves local extensions relative to the config file, which moves to _build/.
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in extensions.items():
        extensions[name] = str((ROOT / folder).resolve())
    path = BUILD / language / "_config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def html_dir(language: str) -> Path:
    return BUILD / language / "_build" / "html"


def build(language: str) -> None:
    _, toc = CONFIGS[language]
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [
        str(jupyter_book), "build", str(BOOK / language),
        "--config", str(config_path(language)),
        "--toc", str(ROOT / toc),
        "--path-output", str(BUILD / language),
        "--warningiserror", "--nitpick", "--keep-going", "--all",
    ]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def assemble() -> Path:
    """Put the landing page and both editions together in _build/site."""
    if SITE.exists():
        shutil.rmtree(SITE)
    SITE.mkdir(parents=True)
    for language in LANGUAGES:
        shutil.copytree(html_dir(language), SITE / language)
    shutil.copy2(BOOK / "landing" / "index.html", SITE / "index.html")
    (SITE / ".nojekyll").touch()  # GitHub Pages: serve _static/ and friends as they are
    return SITE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", choices=LANGUAGES, action="append",
                        help="build only this edition (repeatable); the site is assembled only when both are built")
    args = parser.parse_args(argv)
    languages = args.lang or list(LANGUAGES)
    for language in languages:
        build(language)
    if set(languages) == set(LANGUAGES):
        print(f"site: {assemble().relative_to(ROOT)}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
