"""Chapter 1: one BPE merge step, and encoding a word with learned merges."""

import itertools


def _count(vocab, weighted=True):
    pairs = {}
    for symbols, freq in vocab.items():
        for pair in itertools.pairwise(symbols):
            pairs[pair] = pairs.get(pair, 0) + (freq if weighted else 1)
    return pairs


def _merge(symbols, pair, *, first_only=False, skip=2):
    merged, i, done = [], 0, False
    while i < len(symbols):
        if not done and i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += skip
            done = first_only
        else:
            merged.append(symbols[i])
            i += 1
    return tuple(merged)


def _step(vocab, *, weighted=True, choose=None, **merge_options):
    pairs = _count(vocab, weighted)
    best = choose(pairs) if choose else max(pairs, key=pairs.get)
    return best, {_merge(symbols, best, **merge_options): freq for symbols, freq in vocab.items()}


def _step_by_replacement(vocab):
    """Sennrich et al.'s merge_vocab without the regular expression's boundary guards."""
    pairs = _count(vocab)
    best = max(pairs, key=pairs.get)
    old, new = " ".join(best), "".join(best)
    return best, {tuple(" ".join(symbols).replace(old, new).split()): freq for symbols, freq in vocab.items()}


def _step_in_place(vocab):
    best, merged = _step(vocab)
    vocab.clear()
    vocab.update(merged)
    return best, vocab


def _step_strings(vocab):
    best, merged = _step(vocab)
    return best, {" ".join(symbols): freq for symbols, freq in merged.items()}


def _step_counts_reset(vocab):
    best, merged = _step(vocab)
    return best, dict.fromkeys(merged, 1)


def _encode(word, merges, *, end=True, first_only=False, reverse=False):
    symbols = (*word, "</w>") if end else tuple(word)
    for pair in reversed(merges) if reverse else merges:
        symbols = _merge(symbols, pair, first_only=first_only)
    return list(symbols)


def _encode_longest_match(word, merges):
    """Greedy longest match against the vocabulary, which is not how BPE segments."""
    vocabulary = {a + b for a, b in merges} | set(word) | {"</w>"}
    text, out = word + "</w>", []
    while text:
        piece = next(text[:n] for n in range(len(text), 0, -1) if text[:n] in vocabulary)
        out.append(piece)
        text = text[len(piece):]
    return out


def _encode_by_replacement(word, merges):
    text = " ".join([*word, "</w>"])
    for left, right in merges:
        text = text.replace(f"{left} {right}", left + right)
    return text.split()


def _encode_attached(word, merges):
    """The end-of-word symbol glued to the last letter from the start, as 🤗 tokenizers does."""
    symbols = (*word[:-1], word[-1] + "</w>")
    for pair in merges:
        symbols = _merge(symbols, pair)
    return list(symbols)


def _jamo(text, *, tail_base=0x11A7, always_tail=False, upper=0xD7A3, medial_mod=True, keep_others=True):
    out = []
    for c in text:
        if not 0xAC00 <= ord(c) <= upper:
            out.append(c if keep_others else "")
            continue
        index = ord(c) - 0xAC00
        initial, rest = divmod(index, 21 * 28)
        medial, final = divmod(rest, 28)
        if not medial_mod:
            medial = index // 28  # forgot to take the remainder after the initial first
        out.append(chr(0x1100 + initial) + chr(0x1161 + medial))
        if final or always_tail:
            out.append(chr(tail_base + final))
    return "".join(out)


# The tables of compatibility jamo that many Korean tutorials print: letters for display, not NFD.
_CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNGSEONG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_JONGSEONG = ["", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"]


def _jamo_compatibility(text):
    out = []
    for c in text:
        if "가" <= c <= "힣":
            index = ord(c) - ord("가")
            out.append(_CHOSEONG[index // 588] + _JUNGSEONG[index % 588 // 28] + _JONGSEONG[index % 28])
        else:
            out.append(c)
    return "".join(out)


def _jamo_swapped_divisors(text):
    out = []
    for c in text:
        if "가" <= c <= "힣":
            initial, rest = divmod(ord(c) - 0xAC00, 21 * 28)
            medial, final = divmod(rest, 21)  # 21 and 28 mixed up
            out.append(chr(0x1100 + initial) + chr(0x1161 + medial) + (chr(0x11A7 + final) if final else ""))
        else:
            out.append(c)
    return "".join(out)


def _jamo_initial_by_28(text):
    out = []
    for c in text:
        if "가" <= c <= "힣":
            index = ord(c) - 0xAC00
            initial, medial, final = index // 28 // 19, index // 28 % 21, index % 28  # 19 where 21 belongs
            out.append(chr(0x1100 + initial) + chr(0x1161 + medial) + (chr(0x11A7 + final) if final else ""))
        else:
            out.append(c)
    return "".join(out)


def _jamo_by_normalize(text):
    import unicodedata

    return unicodedata.normalize("NFD", text)


WRONG_ANSWERS = {
    "merge_step": [
        ("bpe-unweighted", lambda vocab: _step(vocab, weighted=False)),
        ("bpe-max-of-keys", lambda vocab: _step(vocab, choose=max)),
        ("bpe-not-most-frequent", lambda vocab: _step(vocab, choose=lambda pairs: min(pairs, key=pairs.get))),
        ("bpe-boundary", _step_by_replacement),
        ("bpe-missed-occurrence", lambda vocab: _step(vocab, first_only=True)),
        ("bpe-letters-changed", lambda vocab: _step(vocab, skip=1)),
        ("bpe-vocab-changed", _step_in_place),
        ("bpe-not-a-vocab", _step_strings),
        ("bpe-frequencies", _step_counts_reset),
        ("bpe-step-order", lambda vocab: tuple(reversed(_step(vocab)))),
        ("bpe-step-return", lambda vocab: _step(vocab)[1]),
        ("bpe-not-a-pair", lambda vocab: ("".join(_step(vocab)[0]), _step(vocab)[1])),
    ],
    "encode_word": [
        ("bpe-end-of-word", lambda word, merges: _encode(word, merges, end=False)),
        ("bpe-end-of-word", _encode_attached),
        ("bpe-merge-order", lambda word, merges: _encode(word, merges, reverse=True)),
        ("bpe-merge-order", _encode_longest_match),
        ("bpe-first-only", lambda word, merges: _encode(word, merges, first_only=True)),
        ("bpe-boundary", _encode_by_replacement),
        ("bpe-not-a-list", lambda word, merges: " ".join(_encode(word, merges))),
        ("raised", lambda word, merges: _encode(word, merges.items())),  # merges is a list, not a dict
    ],
    "to_jamo": [
        ("jamo-tail-offset", lambda text: _jamo(text, tail_base=0x11A8)),  # the first final's code point as base
        ("jamo-no-final", lambda text: _jamo(text, always_tail=True)),  # chr(0x11A7) for "no final consonant"
        ("jamo-compatibility", _jamo_compatibility),
        ("jamo-medial", lambda text: _jamo(text, medial_mod=False)),
        ("jamo-medial", _jamo_swapped_divisors),
        ("jamo-initial", _jamo_initial_by_28),
        ("jamo-range", lambda text: _jamo(text, upper=0x10FFFF)),  # `ord(c) >= 0xAC00` only
        ("jamo-other-chars", lambda text: _jamo(text, keep_others=False)),  # non-syllables dropped
        ("jamo-used-normalize", _jamo_by_normalize),
        ("jamo-not-a-string", lambda text: list(_jamo(text))),
    ],
}
