"""One glossary: every term has one Korean rendering, and the book keeps to it.

The data is ``book/glossary.yml``; :mod:`tools.glossary` makes both glossary pages from it and
holds the two checks. Nothing here executes a notebook.
"""

from __future__ import annotations

import textwrap

import pytest

from tools import glossary
from tools.glossary import (
    GlossaryError,
    find_variants,
    missing_english,
    package_texts,
    page,
    parse,
    prose,
)
from tools.project import slugs

TERMS = glossary.load()
BY_KO = {term.ko: term for term in TERMS}
BY_EN = {term.en: term for term in TERMS}


def failures(findings) -> str:
    return "\n".join(["", *map(str, findings)])


# --- the data ---------------------------------------------------------------------------------------


def test_the_glossary_is_large_enough_and_ordered_by_chapter():
    assert len(TERMS) >= 100
    assert sum(len(term.reject) for term in TERMS) >= 150
    assert [term.chapter for term in TERMS] == sorted(term.chapter for term in TERMS)


@pytest.mark.parametrize(
    ("english", "korean", "rejected"),
    [
        ("attention", "어텐션", ["주의의 몫"]),
        ("additive attention", "가산 어텐션", ["덧셈 어텐션", "더하기 점수"]),
        ("scaled dot-product attention", "스케일드 닷-프로덕트 어텐션", ["스케일드 내적 어텐션"]),
        ("projection", "투영", ["사영"]),
        ("masked self-attention", "마스크드 셀프 어텐션", ["가려진 셀프 어텐션"]),
        ("self-attention", "셀프 어텐션", ["자기 어텐션"]),
        ("padding", "패딩", ["채움"]),
        ("batch", "배치", ["문장 묶음", "미니배치"]),
        ("exact match", "완전 일치율", ["완전 일치 정확도"]),
        ("label", "레이블", ["라벨"]),
        ("label smoothing", "레이블 스무딩", ["라벨 스무딩"]),
        ("gradient", "기울기", ["그래디언트"]),
        ("forget gate", "망각 게이트", []),
        ("input gate", "입력 게이트", []),
        ("output gate", "출력 게이트", []),
        ("cross-entropy", "교차 엔트로피", ["크로스 엔트로피"]),
        ("KL divergence", "KL 발산", []),
        ("gradient descent", "경사 하강법", []),
        ("sampling", "샘플링", ["표본 추출"]),
    ],
)
def test_the_decided_renderings(english, korean, rejected):
    term = BY_EN[english]
    assert term.ko == korean
    assert set(rejected) <= set(term.reject)


@pytest.mark.parametrize("korean", ["마스크 언어 모델", "다음 문장 예측", "사전 학습", "미세 조정", "인과 마스크",
                                    "디노이징", "스팬 손상", "센티널", "텍스트 채우기", "문장 순서 섞기",
                                    "문서 회전", "상대 위치 편향", "RMS 정규화", "과제 접두사", "텍스트-투-텍스트",
                                    "다음 토큰 예측", "퍼플렉시티", "온도", "top-k 샘플링", "top-p 샘플링",
                                    "KV 캐시", "WordPiece", "SentencePiece", "제로샷", "퓨샷",
                                    "데이터 병렬 처리", "혼합 정밀도"])
def test_part_three_terms_are_in_already(korean):
    assert korean in BY_KO


def test_terms_in_latin_letters_need_no_english_name():
    for name in ("BLEU", "LSTM", "GRU", "WordPiece", "SentencePiece"):
        assert not BY_KO[name].english, name


ENTRY = """\
- en: {en}
  ko: {ko}
  reject: {reject}
  chapter: {chapter}
  definition: {{ko: 정의, en: a definition}}
"""


def entry(en="token", ko="토큰", reject="[]", chapter=1) -> str:
    return ENTRY.format(en=en, ko=ko, reject=reject, chapter=chapter)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (entry().replace("  chapter: 1\n", ""), r"entry 1 \('token'\): missing field\(s\) \['chapter'\]"),
        (entry() + entry(en="symbol"), r"'symbol' and 'token' have the same Korean rendering '토큰'"),
        (entry() + entry(en="Token", ko="토큰2"), r"the English term 'Token' has two entries"),
        (entry(reject="[어휘]") + entry(en="vocabulary", ko="어휘"),
         r"'token' rejects '어휘', which is the Korean rendering of 'vocabulary'"),
        (entry(reject="[토큰]"), r"its Korean rendering '토큰' is in its own reject list"),
        (entry(reject="[토근, 토근]"), r"`reject` lists \['토근'\] more than once"),
        (entry(chapter=2) + entry(en="vocabulary", ko="어휘", chapter=1),
         r"'vocabulary' \(chapter 1\) comes after 'token' \(chapter 2\)"),
        (entry(chapter=12), r"`chapter` must be a chapter number 0–10, not 12"),
        (entry() + "  colour: blue\n", r"unknown field\(s\) \['colour'\]"),
        (entry(ko="토큰 (낱말)"), r"`ko` may not contain parentheses"),
        (entry(reject="[토근]") + "  allow: [{file: a.md, text: 토큰}]\n", r"holds none of its rejected variants"),
        ("- just a string\n", r"entry 1 must be a mapping"),
    ],
)
def test_a_malformed_glossary_is_rejected_naming_the_entry(text, message):
    with pytest.raises(GlossaryError, match=message):
        parse(text, "demo.yml")


# --- the pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ko", "en"])
def test_both_glossary_pages_are_what_the_data_gives(language):
    path = glossary.PAGES[language]
    assert path.read_text(encoding="utf-8") == page(TERMS, language), (
        f"{path.name} is stale: run `python -m tools.glossary`"
    )


def test_a_page_lists_each_term_under_its_chapter_in_a_glossary_block():
    terms = parse(entry() + entry(en="attention", ko="어텐션", chapter=3) + entry(en="BPE", ko="BPE", chapter=3)
                  .replace("  definition", "  english: false\n  definition"))
    korean, english = page(terms, "ko"), page(terms, "en")
    assert "```{glossary}\n토큰 (token)\n  정의\n```" in korean
    assert "```{glossary}\n어텐션 (attention)\n  정의\n\nBPE (BPE)\n  정의\n```" in korean
    assert "```{glossary}\nattention (어텐션)\n  a definition\n" in english
    assert korean.count("```{glossary}") == english.count("```{glossary}") == 2
    assert "book/glossary.yml" in korean and "book/glossary.yml" in english


# --- the checks on the book -------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["chapters", "pages", "package"])
def test_no_rejected_variant_appears(where):
    """Korean variants in the Korean texts, English variants (`reject_en`) in the English ones."""
    korean, english = {
        "chapters": (glossary.chapter_texts("ko"), glossary.chapter_texts("en")),
        "pages": (glossary.page_texts("ko"), glossary.page_texts("en")),
        "package": (((str(glossary.PACKAGE), place, text) for place, text in package_texts()), ()),
    }[where]
    findings = find_variants(TERMS, korean) + find_variants(TERMS, english, english=True)
    assert not findings, failures(findings)


@pytest.mark.parametrize("slug", slugs())
def test_each_chapter_gives_the_english_name_at_the_first_use_of_a_term(slug):
    findings = missing_english(TERMS, glossary.chapters([slug]))
    assert not findings, failures(findings)


# --- the checks catch what they should ---------------------------------------------------------------

DEMO = parse(
    entry(en="attention", ko="어텐션", reject="[주의의 몫]", chapter=0)
    + entry(en="key", ko="키", chapter=3)
    + entry(en="self-attention", ko="셀프 어텐션", reject="[자기 어텐션]", chapter=4)
    + "  allow: [{file: errata.md, text: '\"자기 어텐션\"'}]\n"
    + entry(en="byte-pair encoding", ko="바이트 쌍 인코딩", chapter=4).replace("  reject", "  abbr: BPE\n  reject")
    + entry(en="exact match", ko="완전 일치율", reject="[완전 일치]", chapter=4)
    + entry(en="pretraining", ko="사전 학습", chapter=7).replace("  reject: []",
                                                             "  reject: []\n  reject_en: [pre-training]")
)


def md(text: str, language: str = "ko") -> dict:
    return {"cell_type": "markdown", "metadata": {"tags": [f"lang-{language}"]}, "source": text, "id": "md"}


def code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": text, "id": "code"}


def variants(cells, file="demo.ipynb", language="ko"):
    texts = list(glossary.cell_texts(file, cells, language))
    return find_variants(DEMO, texts, english=language == "en")


def missing(*cells):
    return missing_english(DEMO, {"demo.ipynb": list(cells)})


def test_a_rejected_variant_is_caught_in_markdown_and_in_korean_strings_of_code():
    found = variants([md("가중치는 \"주의의 몫\"입니다."), code('print(text("자기 어텐션의 가중치", "weights"))')])
    assert [f.problem for f in found] == [
        "'주의의 몫' is a rejected variant of '어텐션' (attention)",
        "'자기 어텐션' is a rejected variant of '셀프 어텐션' (self-attention)",
    ]
    assert found[0].where == "demo.ipynb cell 0 (md)" and "[주의의 몫]" in found[0].context
    assert found[1].where == "demo.ipynb cell 1 (code) line 1"


def test_a_rejected_variant_is_caught_in_a_heading_but_not_inside_the_accepted_rendering():
    assert len(variants([md("## 완전 일치\n\n완전 일치율(exact match)을 잽니다.")])) == 1
    assert variants([md("완전 일치율(exact match)은 0.70입니다.")]) == []


def test_a_rejected_variant_is_allowed_only_where_the_glossary_allows_it():
    quoted = [("errata.md", "errata.md", 'self-attention이라 하며, "자기 어텐션"이라고도 합니다.')]
    assert find_variants(DEMO, quoted) == []
    elsewhere = [("index.md", "index.md", quoted[0][2]), ("errata.md", "errata.md", "자기 어텐션은")]
    assert [f.where for f in find_variants(DEMO, elsewhere)] == ["index.md line 1", "errata.md line 1"]


def test_an_english_variant_is_caught_in_english_prose_only():
    assert len(variants([md("Pre-training comes first.", "en")], language="en")) == 1
    assert variants([md("Pretraining comes first.", "en")], language="en") == []


def test_the_korean_texts_of_the_package_are_read_without_importing_it(tmp_path):
    (tmp_path / "module.py").write_text(textwrap.dedent('''
        from attnbook.language import text
        from attnbook.exercises.checking import Advice
        LABEL = text(f"{3}번째 자기 어텐션", "third self-attention")
        ADVICE = Advice("id", "주의의 몫을 바꾸세요.", "Change the share of attention.")
        OTHER = "자기 어텐션 in a string that is not a text() call"
    '''), encoding="utf-8")
    found = list(package_texts(tmp_path))
    assert [text for _, text in found] == ["번째 자기 어텐션", "주의의 몫을 바꾸세요."]
    assert [f.problem.split(" is")[0] for f in find_variants(DEMO, [("p", w, t) for w, t in found])] == [
        "'자기 어텐션'", "'주의의 몫'"]


def test_a_first_use_without_the_english_name_is_caught():
    found = missing(md("# 어텐션\n\n어텐션을 봅시다."), md("어텐션(attention)은 나중에 나옵니다."))
    assert [f.problem for f in found] == ["first use of '어텐션' lacks (attention)"]
    assert found[0].where == "demo.ipynb cell 0 (md)" and "[어텐션]을 봅시다" in found[0].context


@pytest.mark.parametrize(
    "text",
    [
        "어텐션(attention)은 가중합입니다.",
        "**어텐션**(attention)은 가중합입니다.",
        "어텐션(Attention)이 있습니다.",
        "바이트 쌍 인코딩(byte-pair encoding, BPE)을 배웁니다.",
        "어텐션(attentions)의 몫",
        "키(key: 찾아보기용 표지)와 어텐션(attention)",
        "식 $어텐션$과 `어텐션` 다음에 어텐션(attention)이 옵니다.",  # math and code are skipped
        "키우면 커집니다. 어텐션(attention)",  # 키우면 is not the term 키
        "완전 일치율(exact match)",
    ],
)
def test_a_first_use_with_the_english_name_passes(text):
    assert missing(md(text)) == []


def test_a_longer_term_does_not_introduce_the_shorter_one_inside_it():
    assert missing(md("셀프 어텐션(self-attention)은 어텐션(attention)의 한 종류입니다.")) == []
    found = missing(md("셀프 어텐션(self-attention)은 어텐션의 한 종류입니다."))
    assert [f.problem for f in found] == ["first use of '어텐션' lacks (attention)"]
    found = missing(md("어텐션(attention)과 셀프 어텐션은 다릅니다."))
    assert [f.problem for f in found] == ["first use of '셀프 어텐션' lacks (self-attention)"]


def test_only_the_first_use_in_a_chapter_needs_the_english_name():
    cells = [md("키(key)를 봅니다."), md("키를 다시 봅니다. 키는 벡터입니다.")]
    assert missing(*cells) == []
    assert len(missing_english(DEMO, {"a.ipynb": cells[1:], "b.ipynb": cells[1:]})) == 2


def test_english_cells_and_headings_do_not_count_as_a_first_use():
    assert len(missing(md("## 키\n\nThe key."), md("The key (키).", "en"), md("키를 봅니다."))) == 1


def test_prose_drops_code_math_targets_and_emphasis_but_keeps_line_numbers():
    text = "a **b** `c` $d$ {cite:t}`e` [f](g)\n```python\nh\n```\n$$\ni\n$$\n```{glossary}\nj\n```"
    cleaned = prose(text)
    assert cleaned.split() == ["a", "b", "f", "j"]
    assert cleaned.count("\n") == text.count("\n")
