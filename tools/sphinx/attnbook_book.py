"""Sphinx extension for both editions of the book.

- Offline: MathJax, RequireJS and the widget HTML manager are installed from the
  npm registry at build time (versions pinned in package-lock.json) and served
  with the book under ``_offline/``, instead of being loaded from CDNs.
- Every page links to the same page in the other language (``/ko/`` ↔ ``/en/``).
- Widgets render from their saved state with the HTML manager; ``attnbook-widgets.js``
  shows it where its fonts are and lets it typeset labels with MathJax 3.
- Jupyter Book 1.0.4 emits sphinx-thebe's inline configuration script twice,
  which throws "Identifier 'THEBE_JS_URL' has already been declared"; we keep one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
OFFLINE = "_offline"
# What is served from _offline/, taken from node_modules.
OFFLINE_FILES = {
    "mathjax": NODE_MODULES / "mathjax" / "es5",
    "requirejs": NODE_MODULES / "requirejs" / "require.js",
    "html-manager": NODE_MODULES / "@jupyter-widgets" / "html-manager" / "dist",
}
LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}
COUNTERPART_LABEL = {"ko": "English edition", "en": "한국어판"}


def _static_relative(path: str) -> str:
    # Sphinx places a relative script path under _static/; step out of it.
    return f"../{OFFLINE}/{path}"


def configure_offline_scripts(app: Sphinx, config: Config) -> None:
    missing = [str(path.relative_to(ROOT)) for path in OFFLINE_FILES.values() if not path.exists()]
    if missing:
        raise ExtensionError(
            f"offline JavaScript is missing ({', '.join(missing)}): run `npm ci` in {ROOT}"
        )
    config.html_static_path.append(str(Path(__file__).parent / "static"))
    config.mathjax_path = _static_relative("mathjax/tex-mml-chtml.js")
    config.nb_ipywidgets_js = {
        _static_relative("requirejs/require.js"): {},
        "attnbook-widgets.js": {},  # our _static/: fonts path and MathJax 3 support for widgets
        # Widget models outside the bundle would come from this "CDN": our own folder.
        _static_relative("html-manager/embed-amd.js"): {
            "data-jupyter-widgets-cdn": f"{OFFLINE}/html-manager/",
            "data-jupyter-widgets-cdn-only": "",
        },
    }


def copy_offline_files(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / OFFLINE
    for name, source in OFFLINE_FILES.items():
        destination = target / name
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.map", "*.LICENSE.txt"))
        else:
            destination.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / source.name)


def other_language(app: Sphinx) -> str:
    language = app.config.language
    if language not in LANGUAGE_NAMES:
        raise ExtensionError(f"the book's language must be one of {sorted(LANGUAGE_NAMES)}, got {language!r}")
    return "en" if language == "ko" else "ko"


def add_page_extras(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    # One copy of each inline script (the THEBE_JS_URL declaration comes twice).
    seen, scripts = set(), []
    for script in context.get("script_files", []):
        # The copies differ only in filename: None for one, "" for the other.
        key = (getattr(script, "filename", script) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            scripts.append(script)
    context["script_files"] = scripts

    # The same page in the other edition: /ko/<page>.html <-> /en/<page>.html.
    other = other_language(app)
    href = "../" * (pagename.count("/") + 1) + f"{other}/{pagename}.html"
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{other}" href="{href}" />'
    )
    if "body" in context:
        context["body"] = (
            f'<p class="attnbook-language-switch"><a class="reference external" href="{href}" '
            f'hreflang="{other}" lang="{other}">{COUNTERPART_LABEL[app.config.language]}</a></p>\n'
            + context["body"]
        )


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", configure_offline_scripts, priority=900)
    app.connect("html-page-context", add_page_extras, priority=900)
    app.connect("build-finished", copy_offline_files)
    app.add_css_file("attnbook.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
