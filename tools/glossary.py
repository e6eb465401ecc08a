"""One glossary: every term's one Korean rendering, the pages made from it, and the checks.

    python -m tools.glossary            # rewrite both glossary pages, then list what the checks find
    python -m tools.glossary --check    # rewrite nothing; exit 1 if a page is stale or a check fails

``book/glossary.yml`` holds one entry per technical term (its comment says how to add one).
:func:`load` reads and validates it; :func:`page` renders ``book/ko/glossary.md`` and
``book/en/glossary.md`` from it; and two checks keep the book consistent with it:

- :func:`rejected_variants`: no rejected Korean variant appears in the Korean prose of a chapter
  (markdown, headings included), in the Korean strings of its code cells, in a Korean prose page
  (errata, index, glossary, …), or in the Korean texts of the package (``text("…", …)`` and
  ``Advice(id, "…", …)``, read with :mod:`ast`). English variants (``reject_en``) are looked for
  in the English prose the same way.
- :func:`missing_english`: in every chapter, the first use of each term in the Korean markdown
  cells (in order; headings, code, math and link targets skipped) is followed at once by its
  English name in parentheses: ``어텐션(attention)``, ``바이트 쌍 인코딩(byte-pair encoding, BPE)``.

How terms are found in Korean text. Particles and endings follow a word directly (어텐션은,
어텐션을, 병합하면), so a term is matched as a substring with two boundaries: it must not be
preceded by a Hangul syllable (a Latin letter or digit, for terms that start with one), and what
follows must be a non-Hangul character or start with a particle or ending from :data:`PARTICLES`
(so 키 matches 키는 and 키와 but not 키우면). Longer terms are matched first, and a match covers
the shorter terms inside it: ``셀프 어텐션(self-attention)`` is the first use of 셀프 어텐션,
not of 어텐션, and does not introduce 어텐션, whose own first use must still carry (attention).
The English name may be followed by a plural -s and must end at ``)``, ``,``, ``:`` or ``;``;
case and the kind of dash do not matter. A rejected variant is matched from the start of a word
(any ending may follow); an occurrence inside an accepted rendering that contains it (완전 일치
inside 완전 일치율) is not a finding, nor is one inside an entry's ``allow`` text in that file.
"""

from __future__ import annotations

import argparse
import ast
import functools
import itertools
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools.project import BOOK, PACKAGE, ROOT, slugs, source_path

GLOSSARY = BOOK / "glossary.yml"
PAGES = {"ko": BOOK / "ko" / "glossary.md", "en": BOOK / "en" / "glossary.md"}
LAST_CHAPTER = 10  # the appendix

HANGUL = "가-힣"
# What may follow a term inside the same word: particles, the copula, and the endings of
# 하다/되다/시키다 verbs made from a noun (병합하면, 정규화된, 학습시킵니다).
PARTICLES = (
    "은", "는", "이", "가", "을", "를", "의", "에", "와", "과", "로", "으로", "도", "만", "나",
    "라", "란", "며", "인", "일", "입", "였", "께", "씩", "쯤", "랑", "들", "뿐", "까지", "부터",
    "처럼", "보다", "마다", "밖에", "대로", "끼리", "조차", "마저", "에게", "한테", "하고",
    "하", "한", "할", "함", "합", "해", "했", "되", "된", "될", "됨", "됩", "됐", "돼",
    "시키", "시킨", "시킬", "시킵", "시켜", "시켰", "답", "다운", "적",
)

CHAPTER_TITLES = {  # used for chapters that have no notebook yet
    0: ("시작하기", "Getting started"),
    1: ("토큰과 임베딩", "Tokens and embeddings"),
    2: ("시퀀스-투-시퀀스", "Sequence to sequence"),
    3: ("바다나우 어텐션", "Bahdanau attention"),
    4: ("쿼리, 키, 밸류", "Query, key and value"),
    5: ("멀티헤드 어텐션과 위치 인코딩", "Multi-head attention and positional encoding"),
    6: ("트랜스포머", "The Transformer"),
    7: ("BERT", "BERT"),
    8: ("GPT", "GPT"),
    9: ("BART와 T5", "BART and T5"),
    10: ("더 크게", "scaling up"),
}

INTRO = {
    "ko": (
        "# 용어집\n\n"
        "이 책에서 쓰는 용어를 한국어와 영어로 함께 적었습니다. 용어마다 한국어 이름은 하나로 정해 두었고, "
        "본문의 각 장은 용어를 처음 쓸 때 영어 이름을 괄호 안에 밝힙니다. 용어는 그 용어를 소개하는 장의 "
        "순서대로 놓았으며, 영어판 용어집도 같은 순서입니다.\n\n"
        "이 페이지는 `book/glossary.yml`에서 만들어집니다(`python -m tools.glossary`). 용어를 고치거나 "
        "더하려면 그 파일을 고치세요.\n"
    ),
    "en": (
        "# Glossary\n\n"
        "The terms this book uses, with their Korean names. Each term has one Korean name, and every "
        "chapter of the Korean edition gives the English name in parentheses where it first uses a "
        "term. The terms are listed under the chapter that introduces them, in the same order as in "
        "the Korean glossary.\n\n"
        "This page is generated from `book/glossary.yml` (`python -m tools.glossary`); to change or "
        "add a term, edit that file.\n"
    ),
}


class GlossaryError(ValueError):
    """``book/glossary.yml`` is malformed; the message names the entry."""


@dataclass(frozen=True)
class Allowance:
    """A rejected variant quoted on purpose: allowed inside ``text`` in ``file`` only."""

    file: str
    text: str


@dataclass(frozen=True)
class Term:
    en: str
    ko: str
    chapter: int
    ko_definition: str
    en_definition: str
    reject: tuple[str, ...] = ()
    reject_en: tuple[str, ...] = ()
    abbr: str | None = None
    english: bool = True
    allow: tuple[Allowance, ...] = ()

    @property
    def ko_heading(self) -> str:
        """The entry's line on the Korean page: 한국어 (English, ABBR)."""
        names = [self.en] + ([self.abbr] if self.abbr and self.abbr not in (self.ko, self.en) else [])
        return f"{self.ko} ({', '.join(names)})"

    @property
    def en_heading(self) -> str:
        """The entry's line on the English page: English (한국어)."""
        return f"{self.en} ({self.ko})"


@dataclass(frozen=True)
class Finding:
    """Something a check found: where, what, and the text around it."""

    where: str
    problem: str
    context: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}: …{self.context}…"


# --- the data -------------------------------------------------------------------------------------

FIELDS = {"en", "ko", "abbr", "reject", "reject_en", "chapter", "english", "allow", "definition"}
REQUIRED = ("en", "ko", "reject", "chapter", "definition")


def _string(value: object, what: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GlossaryError(f"{name}: `{what}` must be a non-empty string, not {value!r}")
    return " ".join(value.split())


def _strings(value: object, what: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise GlossaryError(f"{name}: `{what}` must be a list of strings, not {value!r}")
    items = tuple(_string(item, what, name) for item in value)
    duplicated = sorted({item for item in items if items.count(item) > 1})
    if duplicated:
        raise GlossaryError(f"{name}: `{what}` lists {duplicated} more than once")
    return items


def _term(index: int, entry: object, source: str) -> Term:
    name = f"{source}: entry {index + 1}"
    if not isinstance(entry, dict):
        raise GlossaryError(f"{name} must be a mapping of fields, not {entry!r}")
    if isinstance(entry.get("en"), str):
        name += f" ({entry['en']!r})"
    missing = [field for field in REQUIRED if field not in entry]
    if missing:
        raise GlossaryError(f"{name}: missing field(s) {missing}")
    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise GlossaryError(f"{name}: unknown field(s) {unknown}; known: {sorted(FIELDS)}")
    en, ko = _string(entry["en"], "en", name), _string(entry["ko"], "ko", name)
    for what, value in (("en", en), ("ko", ko)):
        if "(" in value or ")" in value:
            raise GlossaryError(f"{name}: `{what}` may not contain parentheses (the pages write "
                                f"'한국어 (English)')")
    chapter = entry["chapter"]
    if not isinstance(chapter, int) or isinstance(chapter, bool) or not 0 <= chapter <= LAST_CHAPTER:
        raise GlossaryError(f"{name}: `chapter` must be a chapter number 0–{LAST_CHAPTER}, not {chapter!r}")
    english = entry.get("english", True)
    if not isinstance(english, bool):
        raise GlossaryError(f"{name}: `english` must be true or false, not {english!r}")
    definition = entry["definition"]
    if not isinstance(definition, dict) or set(definition) != {"ko", "en"}:
        raise GlossaryError(f"{name}: `definition` must have exactly the fields `ko` and `en`")
    reject = _strings(entry["reject"], "reject", name)
    if ko in reject:
        raise GlossaryError(f"{name}: its Korean rendering {ko!r} is in its own reject list")
    allow = []
    for item in entry.get("allow") or []:
        if not isinstance(item, dict) or set(item) != {"file", "text"}:
            raise GlossaryError(f"{name}: each `allow` item needs exactly `file` and `text`")
        allowance = Allowance(_string(item["file"], "allow.file", name), str(item["text"]))
        if not any(variant in allowance.text for variant in reject):
            raise GlossaryError(f"{name}: the allowed text {allowance.text!r} holds none of its "
                                f"rejected variants")
        allow.append(allowance)
    abbr = entry.get("abbr")
    return Term(
        en=en, ko=ko, chapter=chapter, english=english, reject=reject, allow=tuple(allow),
        abbr=None if abbr is None else _string(abbr, "abbr", name),
        reject_en=_strings(entry.get("reject_en"), "reject_en", name),
        ko_definition=_string(definition["ko"], "definition.ko", name),
        en_definition=_string(definition["en"], "definition.en", name),
    )


def parse(text: str, source: str = "glossary") -> tuple[Term, ...]:
    """The terms of a glossary file's text, validated; :class:`GlossaryError` names the entry."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise GlossaryError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(data, list) or not data:
        raise GlossaryError(f"{source}: must be a list of entries")
    terms = tuple(_term(index, entry, source) for index, entry in enumerate(data))
    by_ko: dict[str, Term] = {}
    by_en: dict[str, Term] = {}
    for term in terms:
        if term.ko in by_ko:
            raise GlossaryError(f"{source}: {term.en!r} and {by_ko[term.ko].en!r} have the same "
                                f"Korean rendering {term.ko!r}")
        if term.en.lower() in by_en:
            raise GlossaryError(f"{source}: the English term {term.en!r} has two entries")
        by_ko[term.ko], by_en[term.en.lower()] = term, term
    for term in terms:
        for variant in term.reject:
            if variant in by_ko:
                raise GlossaryError(f"{source}: {term.en!r} rejects {variant!r}, which is the Korean "
                                    f"rendering of {by_ko[variant].en!r}")
    for before, after in itertools.pairwise(terms):
        if after.chapter < before.chapter:
            raise GlossaryError(f"{source}: {after.en!r} (chapter {after.chapter}) comes after "
                                f"{before.en!r} (chapter {before.chapter}); order the entries by chapter")
    return terms


def load(path: Path = GLOSSARY) -> tuple[Term, ...]:
    """The book's terms, validated."""
    return parse(path.read_text(encoding="utf-8"), _shown(path))


# --- the pages -------------------------------------------------------------------------------------


def _chapter_titles(chapter: int) -> tuple[str, str]:
    """The chapter's title in Korean and English, from its notebook when it has one."""
    for slug in slugs():
        if slug.startswith(f"{chapter:02d}_"):
            cells = json.loads(source_path(slug).read_text(encoding="utf-8"))["cells"]
            return tuple(("".join(cell["source"]).splitlines()[0].lstrip("# ").strip())
                         for cell in cells[:2])  # type: ignore[return-value]
    return CHAPTER_TITLES[chapter]


def _section(chapter: int, language: str) -> str:
    ko, en = _chapter_titles(chapter)
    if chapter == LAST_CHAPTER:
        return f"부록: {ko}" if language == "ko" else f"Appendix: {en}"
    return f"{chapter}장. {ko}" if language == "ko" else f"Chapter {chapter}: {en}"


def page(terms: Iterable[Term], language: str) -> str:
    """The glossary page of one language: the intro, then a ``{glossary}`` block per chapter."""
    terms = list(terms)
    parts = [INTRO[language]]
    for chapter in sorted({term.chapter for term in terms}):
        parts.append(f"\n## {_section(chapter, language)}\n\n```{{glossary}}\n")
        entries = []
        for term in (term for term in terms if term.chapter == chapter):
            if language == "ko":
                entries.append(f"{term.ko_heading}\n  {term.ko_definition}\n")
            else:
                entries.append(f"{term.en_heading}\n  {term.en_definition}\n")
        parts.append("\n".join(entries) + "```\n")
    return "".join(parts)


def write_pages(terms: Iterable[Term] | None = None) -> list[Path]:
    """Write both glossary pages; return those that changed."""
    terms = load() if terms is None else list(terms)
    changed = []
    for language, path in PAGES.items():
        text = page(terms, language)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


# --- reading the book's text ----------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(\{[\w-]+\})?")
# Directives whose body is prose (checked like the text around it); other fences hold code.
PROSE_DIRECTIVES = {"{glossary}", "{note}", "{tip}", "{hint}", "{important}", "{warning}", "{caution}",
                    "{attention}", "{danger}", "{error}", "{seealso}", "{admonition}", "{dropdown}",
                    "{epigraph}", "{topic}", "{sidebar}", "{margin}"}
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.DOTALL)
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")  # {cite:t}`key`, {doc}`errata`: a target, not prose
_CODE = re.compile(r"`[^`\n]*`")
_MATH = re.compile(r"\$[^$\n]+\$")
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_HEADING = re.compile(r"^#{1,6}\s")


def _blank(match: re.Match) -> str:
    """A removed span becomes spaces, keeping its line breaks (so line numbers stay right)."""
    return re.sub(r"[^\n]", " ", match.group())


def prose(markdown: str, headings: bool = True) -> str:
    """The prose of a markdown text: code, math, roles, link targets and emphasis marks removed.

    Removed spans turn into spaces, so offsets move but line numbers do not.
    """
    lines: list[str] = []
    fences: list[tuple[str, bool]] = []  # open fences: (marker, whether the body is prose)
    for line in markdown.split("\n"):
        fence = _FENCE.match(line)
        if fence and fences and fence[1].startswith(fences[-1][0]) and not line.strip().strip(fence[1][0]):
            fences.pop()  # a bare marker at least as long as the open one closes it
            lines.append("")
        elif fence:
            fences.append((fence[1], fence[2] in PROSE_DIRECTIVES))
            lines.append("")
        elif any(not body_is_prose for _, body_is_prose in fences) or (fences and line.startswith(":")):
            lines.append("")  # code, or a directive's option line
        elif not headings and _HEADING.match(line):
            lines.append("")
        else:
            lines.append(line)
    text = _DISPLAY_MATH.sub(_blank, "\n".join(lines))
    for pattern in (_ROLE, _CODE, _MATH):
        text = pattern.sub(_blank, text)
    text = _LINK.sub(r"\1", text)
    return text.replace("*", "")


def _hangul_strings(code: str) -> Iterator[tuple[int, str]]:
    """(line, string) for every string constant with Hangul in it, read with :mod:`ast`."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(f"[{HANGUL}]", node.value):
            yield node.lineno, node.value


def _call_name(node: ast.Call) -> str | None:
    return getattr(node.func, "id", None) or getattr(node.func, "attr", None)


def package_texts(root: Path = PACKAGE) -> Iterator[tuple[str, str]]:
    """(where, text) for the Korean texts of the package: ``text(ko, en)`` and ``Advice(id, ko, en)``."""
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name, korean = _call_name(node), None
            if name == "text":
                korean = node.args[0] if node.args else next(
                    (k.value for k in node.keywords if k.arg == "ko"), None)
            elif name == "Advice":
                korean = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "ko"), None)
            for part in ast.walk(korean) if korean is not None else ():
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield f"{_shown(path)} line {part.lineno}", part.value


def _cells(slug: str) -> list[dict]:
    return json.loads(source_path(slug).read_text(encoding="utf-8"))["cells"]


def _language(cell: dict) -> str | None:
    found = [tag[5:] for tag in cell.get("metadata", {}).get("tags", []) if tag.startswith("lang-")]
    return found[0] if found else None


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _cell_where(file: str, index: int, cell: dict) -> str:
    return f"{file} cell {index} ({cell.get('id', '?')})"


def cell_texts(file: str, cells: list[dict], language: str) -> Iterator[tuple[str, str, str]]:
    """(file, where, text) for the prose of a notebook's cells in ``language``: its markdown cells,
    headings included, and (for Korean) every Hangul string of its code cells."""
    for index, cell in enumerate(cells):
        source, where = _source(cell), _cell_where(file, index, cell)
        if cell["cell_type"] == "markdown" and _language(cell) == language:
            yield file, where, prose(source)
        elif cell["cell_type"] == "code" and language == "ko":
            for line, string in _hangul_strings(source):
                yield file, f"{where} line {line}", string


def chapters(slugs_: Iterable[str] | None = None) -> dict[str, list[dict]]:
    """The cells of each chapter's source notebook, by its file name (all chapters by default)."""
    return {_shown(source_path(slug)): _cells(slug) for slug in (slugs() if slugs_ is None else slugs_)}


def chapter_texts(language: str, slugs_: Iterable[str] | None = None) -> Iterator[tuple[str, str, str]]:
    """(file, where, text) for the prose of every chapter in ``language``."""
    for file, cells in chapters(slugs_).items():
        yield from cell_texts(file, cells, language)


def page_texts(language: str) -> Iterator[tuple[str, str, str]]:
    """(file, where, text) for each prose page of one language (errata, index, glossary, …)."""
    for path in sorted((BOOK / language).glob("*.md")):
        yield _shown(path), _shown(path), prose(path.read_text(encoding="utf-8"))


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


# --- finding terms -----------------------------------------------------------------------------------


def _is_hangul(char: str) -> bool:
    return "가" <= char <= "힣"


def _is_latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


@functools.lru_cache(maxsize=16)
def _by_first_char(words: tuple[str, ...]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for word in sorted(set(words), key=len, reverse=True):
        index.setdefault(word[0], []).append(word)
    return index


def _starts_word(text: str, start: int, word: str) -> bool:
    before = text[start - 1] if start else " "
    return not (_is_hangul(before) if _is_hangul(word[0]) else _is_latin(before))


def _ends_word(text: str, end: int, word: str) -> bool:
    after = text[end] if end < len(text) else " "
    if _is_hangul(word[-1]):
        return not _is_hangul(after) or text.startswith(PARTICLES, end)
    return not _is_latin(after)


def find_words(text: str, words: Iterable[str], ending: bool = True) -> Iterator[tuple[int, str]]:
    """(position, word) for the leftmost, longest, non-overlapping occurrences of ``words``.

    A word must start a word of the text (see the module's docstring); with ``ending``, it must
    also end one, or be followed by a particle or ending.
    """
    index = _by_first_char(tuple(words))
    position = 0
    while position < len(text):
        found = None
        if text[position] in index:
            for word in index[text[position]]:
                if (text.startswith(word, position) and _starts_word(text, position, word)
                        and (not ending or _ends_word(text, position + len(word), word))):
                    found = word
                    break
        if found is None:
            position += 1
        else:
            yield position, found
            position += len(found)


def _context(text: str, start: int, end: int, width: int = 25) -> str:
    before = text[max(0, start - width):start]
    after = text[end:end + width]
    return " ".join(f"{before}[{text[start:end]}]{after}".split())


def _dashes(text: str) -> str:
    return re.sub("[‐-―−]", "-", text).lower()


def has_english(text: str, end: int, term: Term) -> bool:
    """Whether ``text`` goes on at ``end`` with the term's English name in parentheses."""
    following = _dashes(text[end:end + len(term.en) + 8])
    return re.match(rf"\({re.escape(_dashes(term.en))}(?:e?s)?[),:;]", following) is not None


def missing_english(terms: Iterable[Term] | None = None,
                    cells: dict[str, list[dict]] | None = None) -> list[Finding]:
    """Chapters whose first use of a term is not followed by the English name in parentheses.

    ``cells`` maps a file name to a notebook's cells; by default, every chapter's source notebook.
    """
    terms = load() if terms is None else list(terms)
    by_ko = {term.ko: term for term in terms}
    words = tuple(by_ko)
    findings = []
    for file, notebook_cells in (chapters() if cells is None else cells).items():
        seen: set[str] = set()
        for index, cell in enumerate(notebook_cells):
            if cell["cell_type"] != "markdown" or _language(cell) != "ko":
                continue
            text = prose(_source(cell), headings=False)
            for start, word in find_words(text, words):
                term, end = by_ko[word], start + len(word)
                if term.ko in seen:
                    continue
                seen.add(term.ko)
                if term.english and not has_english(text, end, term):
                    findings.append(Finding(_cell_where(file, index, cell),
                                            f"first use of {term.ko!r} lacks ({term.en})",
                                            _context(text, start, end)))
    return findings


def _shielded(text: str, start: int, variant: str, shields: Iterable[str]) -> bool:
    """Whether the variant at ``start`` lies inside an occurrence of one of ``shields``."""
    for shield in shields:
        offset = shield.find(variant)
        while offset >= 0:
            if text[start - offset:start - offset + len(shield)] == shield:
                return True
            offset = shield.find(variant, offset + 1)
    return False


def find_variants(terms: Iterable[Term], texts: Iterable[tuple[str, str, str]],
                  english: bool = False) -> list[Finding]:
    """Rejected variants in ``texts`` ((file, where, text) triples)."""
    terms = list(terms)
    owner = {v: term for term in terms for v in (term.reject_en if english else term.reject)}
    if not owner:
        return []
    accepted = [term.en if english else term.ko for term in terms]
    shields = {v: [word for word in accepted if v in word and word != v] for v in owner}
    pattern = re.compile("|".join(rf"\b{re.escape(v)}\b" for v in sorted(owner, key=len, reverse=True)),
                         re.IGNORECASE)
    spelled = {v.lower(): v for v in owner}
    findings = []
    for file, where, text in texts:
        if english:
            matches = ((m.start(), spelled[m.group().lower()]) for m in pattern.finditer(text))
        else:
            matches = find_words(text, tuple(owner), ending=False)
        for start, variant in matches:
            term = owner[variant]
            allowed = [a.text for a in term.allow if a.file == file]
            if _shielded(text, start, variant, shields[variant] + allowed):
                continue
            line = text.count("\n", 0, start) + 1
            place = f"{where} line {line}" if where.endswith(".md") else where
            rendering = term.en if english else term.ko
            findings.append(Finding(place, f"{variant!r} is a rejected variant of {rendering!r} ({term.en})",
                                    _context(text, start, start + len(variant))))
    return findings


def rejected_variants(terms: Iterable[Term] | None = None) -> list[Finding]:
    """Rejected variants anywhere in the book: chapters, prose pages, the package's Korean texts."""
    terms = load() if terms is None else list(terms)
    korean = [*chapter_texts("ko"), *page_texts("ko"),
              *((_shown(PACKAGE), where, text) for where, text in package_texts())]
    english = [*chapter_texts("en"), *page_texts("en")]
    return find_variants(terms, korean) + find_variants(terms, english, english=True)


# --- the command ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a page is stale or a check finds something")
    args = parser.parse_args(argv)
    terms = load()
    if args.check:
        stale = [_shown(path) for language, path in PAGES.items()
                 if not path.exists() or path.read_text(encoding="utf-8") != page(terms, language)]
        for path in stale:
            print(f"{path} is stale: run `python -m tools.glossary`")
    else:
        stale = []
        for path in write_pages(terms):
            print(f"wrote {_shown(path)}")
    findings = rejected_variants(terms) + missing_english(terms)
    for finding in findings:
        print(finding)
    print(f"{len(terms)} terms, {sum(len(t.reject) + len(t.reject_en) for t in terms)} rejected variants; "
          f"{len(findings)} finding(s)")
    return 1 if args.check and (stale or findings) else 0


if __name__ == "__main__":
    sys.exit(main())
