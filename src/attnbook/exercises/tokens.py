"""Chapter 1 (토큰과 임베딩 / Tokens and embeddings): Hangul to jamo by arithmetic, and BPE.

``to_jamo`` inverts the chapter's formula for a syllable's code point
(``tests/test_tokens_exercises.py`` checks it against NFD). The two BPE exercises
use Algorithm 1's representation (Sennrich et al. 2016): a word is a tuple of
symbols ending in the end-of-word symbol ``"</w>"``, and ``vocab`` maps each word
to its frequency. The references are self-contained so that the book can show
them as solutions; ``tests/test_bpe.py`` checks that they agree with
:mod:`attnbook.bpe`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from attnbook.exercises.checking import Advice, Checker, exercise
from attnbook.language import text

END = "</w>"


def merge_step(vocab: dict[tuple[str, ...], int]) -> tuple[tuple[str, str], dict]:
    """One BPE merge step: the most frequent pair, and the vocab with it merged everywhere."""
    pairs = {}
    for symbols, freq in vocab.items():
        for i in range(len(symbols) - 1):
            pair = (symbols[i], symbols[i + 1])
            pairs[pair] = pairs.get(pair, 0) + freq  # weighted by the word's frequency
    best = max(pairs, key=pairs.get)

    merged_vocab = {}
    for symbols, freq in vocab.items():
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                merged.append(symbols[i] + symbols[i + 1])
                i += 2  # skip both halves of the pair
            else:
                merged.append(symbols[i])
                i += 1
        merged_vocab[tuple(merged)] = freq
    return best, merged_vocab


def encode_word(word: str, merges: list[tuple[str, str]]) -> list[str]:
    """Segment ``word`` with learned ``merges``, applied in the order they were learned."""
    symbols = [*word, "</w>"]
    for left, right in merges:
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and symbols[i] == left and symbols[i + 1] == right:
                merged.append(left + right)
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
    return symbols


# --- advice --------------------------------------------------------------------------------

STEP_RETURN = Advice(
    "bpe-step-return",
    "merge_step은 (가장 잦은 쌍, 새 vocab) 두 값을 튜플로 돌려주어야 합니다. 받은 것: {got}.",
    "merge_step should return two things, (most frequent pair, new vocab), but it returned {got}.",
)
STEP_ORDER = Advice(
    "bpe-step-order",
    "돌려주는 순서가 바뀌었습니다. `return best, new_vocab`처럼 쌍을 먼저, vocab을 나중에 돌려주세요.",
    "The two results are swapped: return the pair first and the vocab second, `return best, new_vocab`.",
)
NOT_A_PAIR = Advice(
    "bpe-not-a-pair",
    "가장 잦은 쌍은 인접한 두 기호의 튜플이어야 합니다. 예: ('e', 's'). 받은 것: {got!r}.",
    "The most frequent pair should be a tuple of two adjacent symbols, such as ('e', 's'); got {got!r}.",
)
UNWEIGHTED = Advice(
    "bpe-unweighted",
    "{got}을(를) 골랐는데 이 쌍은 {got_count}번, {expected}은(는) {expected_count}번 나옵니다. "
    "쌍을 셀 때 단어마다 1을 더하지 말고 그 단어의 빈도(vocab[word])를 더하세요.",
    "You chose {got} (count {got_count}), but {expected} has count {expected_count}. When counting "
    "pairs, add the word's frequency (vocab[word]), not 1 per word.",
)
MAX_OF_KEYS = Advice(
    "bpe-max-of-keys",
    "{got}은(는) 가장 잦은 쌍이 아니라 사전 순으로 가장 큰 쌍입니다. max(pairs)는 키끼리 비교합니다. "
    "개수로 비교하려면 max(pairs, key=pairs.get)을 쓰세요.",
    "{got} is not the most frequent pair but the largest in dictionary order: max(pairs) compares the "
    "keys. To compare the counts, use max(pairs, key=pairs.get).",
)
NOT_MOST_FREQUENT = Advice(
    "bpe-not-most-frequent",
    "{got}은(는) {got_count}번 나오지만 가장 잦은 쌍 {expected}은(는) {expected_count}번 나옵니다. "
    "각 단어의 인접한 모든 쌍 (symbols[i], symbols[i+1])을 빈도만큼 세었는지 확인하세요.",
    "{got} has count {got_count}, but the most frequent pair, {expected}, has count {expected_count}. "
    "Check that you count every adjacent pair (symbols[i], symbols[i+1]) of every word, weighted by frequency.",
)
NOT_A_VOCAB = Advice(
    "bpe-not-a-vocab",
    "새 vocab은 dict여야 하고, 키는 기호의 튜플(예: ('l', 'o', 'w', '</w>')), 값은 빈도여야 합니다. "
    "받은 것: {got}.",
    "The new vocab should be a dict whose keys are tuples of symbols, such as ('l', 'o', 'w', '</w>'), "
    "and whose values are frequencies; got {got}.",
)
WORDS_LOST = Advice(
    "bpe-words-lost",
    "새 vocab에 단어가 {got}개 있는데, 원래 vocab에는 {expected}개 있었습니다. 병합은 단어를 없애거나 "
    "새로 만들지 않고, 단어마다 기호만 다시 묶습니다.",
    "The new vocab has {got} words but the old one had {expected}. Merging neither drops nor adds words; "
    "it only regroups the symbols inside each word.",
)
FREQUENCIES = Advice(
    "bpe-frequencies",
    "단어의 빈도가 바뀌었습니다 (예: {word}의 빈도가 {expected}에서 {got}로). 각 단어의 빈도는 그대로 두세요.",
    "A word's frequency changed (for example {word}: {expected} became {got}). Keep each word's frequency.",
)
LETTERS_CHANGED = Advice(
    "bpe-letters-changed",
    "기호를 이어 붙이면 원래 단어와 같아야 하는데 {word}이(가) {got}이(가) 되었습니다. 쌍을 합친 뒤에는 "
    "두 기호를 모두 건너뛰어야 합니다(i += 2).",
    "Joined together, the symbols must spell the same word, but {word} became {got}. After merging a "
    "pair, skip both of its symbols (i += 2).",
)
BOUNDARY = Advice(
    "bpe-boundary",
    "{word}이(가) {got}이(가) 되었습니다. 기호 경계를 넘어 합쳤습니다: 정확히 두 기호 {pair}이(가) 나란히 있을 "
    "때만 합쳐야 합니다. 기호를 공백으로 이어 문자열 치환(replace)을 하면 'oo k'의 'o k'처럼 기호의 일부가 "
    "잘못 맞습니다.",
    "{word} became {got}: symbols were merged across a symbol boundary. Merge only where the two symbols "
    "{pair} stand next to each other. Joining symbols with spaces and calling str.replace also matches "
    "parts of symbols, like 'o k' inside 'oo k'.",
)
MISSED = Advice(
    "bpe-missed-occurrence",
    "{word}에 아직 쌍 {pair}이(가) 남아 있습니다. 모든 단어에서, 한 단어 안에 여러 번 나오면 그 모두를 "
    "합쳐야 합니다.",
    "The pair {pair} is still there in {word}. Merge every occurrence, in every word, including repeated "
    "occurrences within one word.",
)
WRONG_MERGE = Advice(
    "bpe-wrong-merge",
    "{word}은(는) {expected}이(가) 되어야 하는데 {got}이(가) 되었습니다.",
    "{word} should become {expected}, but it became {got}.",
)
VOCAB_CHANGED = Advice(
    "bpe-vocab-changed",
    "입력 vocab이 바뀌었습니다. 원래 dict를 고치지 말고 새 dict를 만들어 돌려주세요.",
    "Your function changed the vocab it was given. Leave the input alone and build a new dict.",
)
NOT_A_LIST = Advice(
    "bpe-not-a-list",
    "encode_word는 기호(문자열)의 리스트를 돌려주어야 합니다. 예: ['low', 'est</w>']. 받은 것: {got}.",
    "encode_word should return a list of symbols (strings), such as ['low', 'est</w>']; got {got}.",
)
END_OF_WORD_MISSING = Advice(
    "bpe-end-of-word",
    "{word}의 결과 {got}에 단어 끝 기호가 따로 없습니다. 알고리즘 1처럼 글자들 뒤에 '</w>'를 하나의 기호로 "
    "붙여서 시작하세요: [*word, '</w>'].",
    "The result for {word}, {got}, lacks a separate end-of-word symbol. As in Algorithm 1, start from the "
    "characters followed by '</w>' as a symbol of its own: [*word, '</w>'].",
)
MERGE_ORDER = Advice(
    "bpe-merge-order",
    "{word}은(는) {expected}이(가) 되어야 하는데 {got}이(가) 되었습니다. 병합 규칙은 배운 순서대로 하나씩 "
    "적용해야 합니다. 먼저 배운 규칙이 먼저 적용되며, 어휘에서 가장 긴 조각을 찾는 방식과는 결과가 다를 수 있습니다.",
    "{word} should become {expected}, but it became {got}. Apply the merges one by one, in the order they "
    "were learned: the earliest merge goes first, which can differ from matching the longest piece in the "
    "vocabulary.",
)
FIRST_ONLY = Advice(
    "bpe-first-only",
    "{word}은(는) {expected}이(가) 되어야 하는데 {got}이(가) 되었습니다. 한 병합 규칙이 단어 안에서 여러 번 "
    "맞으면 모두 합쳐야 합니다.",
    "{word} should become {expected}, but it became {got}. When a merge matches several times in a word, "
    "merge every occurrence.",
)


# --- merge_step ---------------------------------------------------------------------------

# A vocab in the middle of learning: "oo" is already a symbol. ("o", "k") is the most
# frequent pair by frequency, ("r", "e") by number of words; "cookbook" holds the pair
# twice, and "b oo k" traps merging by string replacement ("o k" inside "oo k").
_MIDWAY_VOCAB = {
    ("t", "o", "k", "e", "n", "</w>"): 4,
    ("t", "o", "k", "e", "n", "s", "</w>"): 3,
    ("b", "oo", "k", "</w>"): 5,
    ("c", "o", "o", "k", "b", "o", "o", "k", "</w>"): 1,
    ("r", "e", "a", "d", "</w>"): 1,
    ("r", "e", "a", "d", "s", "</w>"): 1,
    ("r", "e", "a", "d", "e", "r", "</w>"): 1,
    ("r", "e", "a", "d", "i", "n", "g", "</w>"): 1,
    ("r", "e", "a", "d", "e", "r", "s", "</w>"): 1,
}
# Algorithm 1's example dictionary, before any merge: three pairs tie for the top,
# and any of them is a right answer.
_TOY_VOCAB = {
    ("l", "o", "w", "</w>"): 5,
    ("l", "o", "w", "e", "r", "</w>"): 2,
    ("n", "e", "w", "e", "s", "t", "</w>"): 6,
    ("w", "i", "d", "e", "s", "t", "</w>"): 3,
}
# A pair of identical symbols: "a a a" holds it twice, overlapping.
_OVERLAP_VOCAB = {
    ("b", "a", "a", "a", "</w>"): 3,
    ("a", "a", "</w>"): 1,
    ("b", "a", "</w>"): 2,
}


def _show(symbols: Sequence[str]) -> str:
    return "'" + " ".join(symbols) + "'"


def _describe(obj: Any) -> str:
    if isinstance(obj, tuple):
        return text(f"길이 {len(obj)}인 튜플", f"a tuple of length {len(obj)}")
    if isinstance(obj, dict):
        key = next(iter(obj), None)
        return text(f"키가 {key!r} 같은 dict", f"a dict with keys like {key!r}")
    return text(f"{type(obj).__name__} 값", f"a {type(obj).__name__}")


def _pair_counts(vocab: Mapping[tuple[str, ...], int], weighted: bool = True) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for symbols, freq in vocab.items():
        for pair in itertools.pairwise(symbols):
            counts[pair] = counts.get(pair, 0) + (freq if weighted else 1)
    return counts


def _merge_all(symbols: Sequence[str], pair: tuple[str, str], first_only: bool = False) -> list[str]:
    """Merge the occurrences of ``pair`` left to right (only the first one, to imitate that mistake)."""
    merged, i, done = [], 0, False
    while i < len(symbols):
        if not done and i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
            done = first_only
        else:
            merged.append(symbols[i])
            i += 1
    return merged


def _has_pair(symbols: Sequence[str], pair: tuple[str, str]) -> bool:
    return any(adjacent == pair for adjacent in itertools.pairwise(symbols))


def _check_step(check: Checker, fn: Any, vocab: dict[tuple[str, ...], int]) -> None:
    original = dict(vocab)
    result = check.call(fn, vocab)
    if not isinstance(result, tuple) or len(result) != 2:
        check.fail(STEP_RETURN, got=_describe(result))
    best, new_vocab = result
    if isinstance(best, dict) and isinstance(new_vocab, tuple):
        check.fail(STEP_ORDER)
    if vocab != original:
        check.fail(VOCAB_CHANGED)

    counts = _pair_counts(original)
    top = max(counts.values())
    if not (isinstance(best, tuple) and len(best) == 2 and best in counts):
        check.fail(NOT_A_PAIR, got=best)
    if counts[best] != top:  # any of several tied pairs is right
        if best == max(counts):
            check.fail(MAX_OF_KEYS, got=best)
        unweighted = _pair_counts(original, weighted=False)
        advice = UNWEIGHTED if unweighted[best] == max(unweighted.values()) else NOT_MOST_FREQUENT
        check.fail(advice, got=best, got_count=counts[best], expected=max(counts, key=counts.get),
                   expected_count=top)

    if not isinstance(new_vocab, dict) or not all(isinstance(word, tuple) for word in new_vocab):
        check.fail(NOT_A_VOCAB, got=_describe(new_vocab))
    if len(new_vocab) != len(original):
        check.fail(WORDS_LOST, got=len(new_vocab), expected=len(original))
    by_spelling = {"".join(word): word for word in new_vocab}
    for position, (word, freq) in enumerate(original.items()):
        expected = tuple(_merge_all(word, best))
        got = by_spelling.get("".join(word))
        if got is None:  # no word is spelt like this one any more
            check.fail(LETTERS_CHANGED, word=_show(word), got=_show(list(new_vocab)[position]))
        if new_vocab[got] != freq:
            check.fail(FREQUENCIES, word=_show(word), expected=freq, got=new_vocab[got])
        if got == expected:
            continue
        if _has_pair(got, best):
            check.fail(MISSED, word=_show(got), pair=best)
        if any(symbol not in expected and symbol not in word for symbol in got):
            check.fail(BOUNDARY, word=_show(word), got=_show(got), pair=best)
        check.fail(WRONG_MERGE, word=_show(word), expected=_show(expected), got=_show(got))


@exercise(merge_step)
def check_merge_step(check: Checker, fn) -> None:
    for vocab in (_MIDWAY_VOCAB, _TOY_VOCAB, _OVERLAP_VOCAB):
        _check_step(check, fn, dict(vocab))


# --- encode_word ----------------------------------------------------------------------------

# The first ten merges attnbook.bpe.learn_bpe learns from Algorithm 1's example dictionary.
_TOY_MERGES = [
    ("e", "s"), ("t", "</w>"), ("es", "t</w>"), ("l", "o"), ("lo", "w"),
    ("e", "w"), ("n", "ew"), ("new", "est</w>"), ("low", "</w>"), ("d", "est</w>"),
]
_CASES = [  # (word, merges): together they catch each mistake below
    ("lowest", _TOY_MERGES),
    ("newer", _TOY_MERGES),
    ("wide", _TOY_MERGES),
    ("abc", [("b", "c"), ("a", "b")]),  # "ab" is in the vocabulary, but "bc" was learned first
    ("banana", [("a", "n")]),  # one merge, two occurrences
    ("abc", [("a", "b"), ("b", "c")]),  # "b c" inside "ab c" must not merge
]


def _first_only(word: str, merges: Sequence[tuple[str, str]]) -> list[str]:
    symbols = [*word, END]
    for pair in merges:
        symbols = _merge_all(symbols, pair, first_only=True)
    return symbols


def _by_replacement(word: str, merges: Sequence[tuple[str, str]]) -> tuple[list[str], tuple[str, str] | None]:
    """Merging by string replacement, and the first merge at which it goes wrong."""
    joined, symbols, culprit = " ".join([*word, END]), [*word, END], None
    for pair in merges:
        joined = joined.replace(" ".join(pair), "".join(pair))
        symbols = _merge_all(symbols, pair)
        if culprit is None and joined.split() != symbols:
            culprit = pair
    return joined.split(), culprit


@exercise(encode_word)
def check_encode_word(check: Checker, fn) -> None:
    for word, merges in _CASES:
        got = check.call(fn, word, list(merges))
        if isinstance(got, tuple):
            got = list(got)
        if not isinstance(got, list) or not all(isinstance(symbol, str) for symbol in got):
            check.fail(NOT_A_LIST, got=_describe(got))
        expected = encode_word(word, merges)
        if got == expected:
            continue
        joined = "".join(got)
        if joined == word or (END in expected and END not in got and joined == word + END):
            check.fail(END_OF_WORD_MISSING, word=word, got=got)  # none at all, or glued to the last letter
        if joined != word + END:
            check.fail(LETTERS_CHANGED, word=word, got=_show(got))
        if got == _first_only(word, merges):
            check.fail(FIRST_ONLY, word=word, expected=expected, got=got)
        replaced, culprit = _by_replacement(word, merges)
        if got == replaced:
            check.fail(BOUNDARY, word=word, got=_show(got), pair=culprit)
        check.fail(MERGE_ORDER, word=word, expected=expected, got=got)


# --- to_jamo --------------------------------------------------------------------------------


def to_jamo(text: str) -> str:
    """NFD for Hangul, by arithmetic: each syllable of ``text`` becomes its conjoining jamo; the rest stays."""
    out = []
    for c in text:
        index = ord(c) - 0xAC00                     # the syllable's place after 가
        if not 0 <= index < 19 * 21 * 28:           # not one of the 11,172 syllables
            out.append(c)
            continue
        initial, rest = divmod(index, 21 * 28)      # 588 syllables per initial consonant
        medial, final = divmod(rest, 28)            # 28 per vowel: 27 finals and "none"
        out.append(chr(0x1100 + initial) + chr(0x1161 + medial))
        if final:                                   # final 0 is "no final consonant"
            out.append(chr(0x11A7 + final))
    return "".join(out)


JAMO_NORMALIZE = Advice(
    "jamo-used-normalize",
    "unicodedata.normalize를 불렀습니다. 이 연습은 본문의 공식을 거꾸로 풀어, 음절의 코드 포인트에서 초성·중성·"
    "종성 번호를 직접 계산하는 것입니다. unicodedata.normalize('NFD', ...)는 답을 맞춰 볼 때만 쓰세요.",
    "You called unicodedata.normalize. This exercise is about inverting the chapter's formula: compute the "
    "initial, vowel and final indices from the syllable's code point yourself, and use "
    "unicodedata.normalize('NFD', ...) only to check your answer.",
)
JAMO_NOT_A_STRING = Advice(
    "jamo-not-a-string",
    "to_jamo는 문자열을 돌려주어야 합니다. 받은 것: {got}. 자모들을 ''.join(...)으로 이어 붙이세요.",
    "to_jamo should return a string, but it returned {got}. Join the jamo with ''.join(...).",
)
JAMO_RANGE = Advice(
    "jamo-range",
    "{char!r}({code})은(는) 한글 음절이 아닌데 {got}(으)로 바뀌었습니다. 음절은 U+AC00 '가'부터 U+D7A3 '힣'까지 "
    "11,172개뿐입니다. 아래쪽 경계만 보지 말고 위쪽 경계도 확인하세요.",
    "{code} is not a Hangul syllable, yet it changed into {got}. The 11,172 syllables run from U+AC00 to "
    "U+D7A3: check the upper bound as well as the lower one.",
)
JAMO_OTHER_CHARS = Advice(
    "jamo-other-chars",
    "{char!r}({code})은(는) 한글 음절이 아니므로 그대로 두어야 하는데 {got}(으)로 바뀌었습니다. NFD처럼 공백, "
    "문장 부호, 라틴 문자, 이미 자모인 글자는 그대로 옮기세요.",
    "{code} is not a Hangul syllable and should stay as it is, but it became {got}. Like NFD, copy spaces, "
    "punctuation, Latin letters and characters that already are jamo unchanged.",
)
JAMO_COMPATIBILITY = Advice(
    "jamo-compatibility",
    "{char!r}({code})이(가) {got}, 즉 호환용 자모(U+3131 'ㄱ' 부근, 키보드로 따로 치는 글자)가 되었습니다. "
    "NFD는 조합용 자모로 적습니다: 초성은 U+1100부터, 중성은 U+1161부터, 종성은 U+11A8부터입니다. 글자 표를 "
    "쓰지 말고 각 번호에 이 시작 값을 더하세요.",
    "{code} became {got}: compatibility jamo, the stand-alone letters near U+3131 that a keyboard types. NFD "
    "writes conjoining jamo: initials from U+1100, vowels from U+1161, finals from U+11A8. Instead of a "
    "table of letters, add each index to these starting points.",
)
JAMO_NO_FINAL = Advice(
    "jamo-no-final",
    "{char!r}에는 받침이 없는데 세 번째 글자({extra})를 붙였습니다: {got}. 종성 번호 0은 '종성 없음'이라는 "
    "뜻이므로, 이때는 초성과 중성 두 글자만 적습니다.",
    "{code} has no final consonant, yet you added a third character, {extra}: {got}. A final index of 0 "
    "means \"no final consonant\": write only the initial and the vowel then.",
)
JAMO_TAIL_OFFSET = Advice(
    "jamo-tail-offset",
    "{char!r}의 종성이 한 칸 어긋났습니다. 정답은 {expected}, 결과는 {got}입니다. 종성 번호 0이 '종성 없음'이므로 "
    "첫 종성 ᆨ(U+11A8)의 번호는 1입니다. 그래서 종성 글자는 0x11A7 + 번호입니다.",
    "The final consonant of {code} is off by one: it should be {expected}, got {got}. Final index 0 is "
    "\"no final consonant\", so the first final, U+11A8, has index 1: the final jamo is 0x11A7 + index.",
)
JAMO_MEDIAL = Advice(
    "jamo-medial",
    "{char!r}의 초성은 맞지만 중성이나 종성이 틀렸습니다. 정답은 {expected}, 결과는 {got}입니다. 초성 하나에 "
    "음절이 21 × 28 = 588개, 중성 하나에 28개(종성 27개와 '종성 없음')씩 있습니다. 음절 번호를 588로 나눈 "
    "나머지를 다시 28로 나누면 몫이 중성 번호, 나머지가 종성 번호입니다.",
    "The initial of {code} is right but the vowel or the final is wrong: it should be {expected}, got {got}. "
    "Each initial has 21 × 28 = 588 syllables, and each vowel 28 (27 finals and \"none\"). Divide the "
    "remainder after 588 by 28: the quotient is the vowel's index, the remainder the final's.",
)
JAMO_INITIAL = Advice(
    "jamo-initial",
    "{char!r}의 초성이 틀렸습니다. 정답은 {expected}, 결과는 {got}입니다. 음절 번호는 ord(c) - 0xAC00이고 "
    "초성 하나에 음절이 21 × 28 = 588개씩 있으므로, 초성 번호는 음절 번호 // 588입니다.",
    "The initial of {code} is wrong: it should be {expected}, got {got}. The syllable's index is "
    "ord(c) - 0xAC00, and each initial has 21 × 28 = 588 syllables, so the initial's index is index // 588.",
)
JAMO_WRONG = Advice(
    "jamo-wrong",
    "{text!r}의 결과가 NFD와 다릅니다. 정답은 {expected}, 결과는 {got}입니다.",
    "The result for {text_code} differs from NFD: it should be {expected}, got {got}.",
)

# Syllables with and without a final consonant, the first (가) and the last (힣), the first final (각),
# and characters NFD leaves alone: spaces, ASCII, compatibility jamo (ㅋ), conjoining jamo, fullwidth
# punctuation and an emoji above 힣.
_JAMO_TEXTS = ["한", "가", "각", "힣", "천천히 읽으세요.", "BPE는 2016년에!", "ㅋㅋ 좋아요！", "\u1100\u1161\u11a8",
               "골라 😀"]


def _code_points(text_: str) -> str:
    return " ".join(f"U+{ord(c):04X}" for c in text_) or "''"


def _is_syllable(c: str) -> bool:
    return 0xAC00 <= ord(c) <= 0xD7A3


class _NormalizeCalled:
    """Stands in for unicodedata.normalize while the reader's to_jamo runs."""

    def __init__(self, check: Checker) -> None:
        self.check = check

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        self.check.fail(JAMO_NORMALIZE)
        return ""  # never reached


def _check_char(check: Checker, fn: Any, c: str, expected: str) -> None:
    got = check.call(fn, c)
    if not isinstance(got, str):
        check.fail(JAMO_NOT_A_STRING, got=_describe(got))
    if got == expected:
        return
    values = {"char": c, "code": f"U+{ord(c):04X}", "got": _code_points(got), "expected": _code_points(expected)}
    if not _is_syllable(c):
        check.fail(JAMO_RANGE if ord(c) > 0xD7A3 else JAMO_OTHER_CHARS, **values)
    if any(0x3131 <= ord(g) <= 0x318E for g in got):
        check.fail(JAMO_COMPATIBILITY, **values)
    if len(expected) == 2 and len(got) == 3 and got[:2] == expected:
        check.fail(JAMO_NO_FINAL, extra=f"U+{ord(got[2]):04X}", **values)
    if len(expected) == len(got) == 3 and got[:2] == expected[:2] and abs(ord(got[2]) - ord(expected[2])) == 1:
        check.fail(JAMO_TAIL_OFFSET, **values)
    if got[:1] == expected[:1]:
        check.fail(JAMO_MEDIAL, **values)
    check.fail(JAMO_INITIAL, **values)


@exercise(to_jamo)
def check_to_jamo(check: Checker, fn) -> None:
    import unicodedata

    normalize = unicodedata.normalize
    expected = {t: normalize("NFD", t) for t in _JAMO_TEXTS}
    unicodedata.normalize = _NormalizeCalled(check)  # the exercise is the arithmetic, not the library call
    try:
        for c in dict.fromkeys("".join(_JAMO_TEXTS)):  # one character at a time first: precise advice
            _check_char(check, fn, c, normalize("NFD", c))
        for t in _JAMO_TEXTS:
            got = check.call(fn, t)
            if got != expected[t]:
                if not isinstance(got, str):
                    check.fail(JAMO_NOT_A_STRING, got=_describe(got))
                check.fail(JAMO_WRONG, text=t, text_code=_code_points(t), expected=_code_points(expected[t]),
                           got=_code_points(got))
    finally:
        unicodedata.normalize = normalize
