"""The tokenisers of the MiniLM embedder: BERT (uncased) WordPiece over the model's
``vocab.txt``, in pure Python, and the ``tokenizers`` (Rust) package reading the shipped
``tokenizer.json`` when it is installed.  Both give the same token ids.

This module is a leaf: it imports nothing from galaxlite.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

__all__ = ["HFTokenizer", "WordPieceTokenizer"]

_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_ASCII_CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\x7f"
_ASCII_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " ", **dict.fromkeys(_ASCII_CONTROL)})
_ASCII_PUNCT = r"!-/:-@\[-`{-~"
_ASCII_SPLIT_RE = re.compile(rf"[^\s{_ASCII_PUNCT}]+|[{_ASCII_PUNCT}]")


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


class WordPieceTokenizer:
    """Pure-Python BERT (uncased) tokeniser, equivalent to the shipped ``tokenizer.json``.

    Clean text (drop control characters, map whitespace to spaces), put spaces around CJK
    ideographs, strip accents (NFD, drop non-spacing marks), lowercase per character, split
    on whitespace and punctuation, then greedy longest-match-first WordPiece with ``##``
    continuations; words over 100 characters or with no segmentation become ``[UNK]``.
    """

    def __init__(self, vocab_path: Path, max_length: int) -> None:
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.unk_id = self.vocab["[UNK]"]
        self.max_length = max_length
        self._cache: dict[str, list[int]] = {}

    def _words(self, text: str) -> list[str]:
        if text.isascii():
            return _ASCII_SPLIT_RE.findall(text.translate(_ASCII_CLEAN).lower())
        chars: list[str] = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD:
                continue
            if ch in "\t\n\r":
                chars.append(" ")
            elif unicodedata.category(ch).startswith("C"):
                continue  # control and format characters go first (\x0b, \x85, \u200b...)
            elif ch.isspace():
                chars.append(" ")
            elif _is_cjk(cp):
                chars.extend((" ", ch, " "))
            else:
                chars.append(ch)
        text = unicodedata.normalize("NFD", "".join(chars))
        text = "".join(c.lower() for c in text if unicodedata.category(c) != "Mn")
        words: list[str] = []
        for chunk in text.split():
            start = 0
            for i, ch in enumerate(chunk):
                if _is_punct(ch):
                    if i > start:
                        words.append(chunk[start:i])
                    words.append(ch)
                    start = i + 1
            if start < len(chunk):
                words.append(chunk[start:])
        return words

    def _wordpiece(self, word: str) -> list[int]:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        vocab = self.vocab
        ids: list[int] = []
        if len(word) > 100:
            ids = [self.unk_id]
        else:
            start, n = 0, len(word)
            while start < n:
                end = n
                cur = None
                while start < end:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    cur = vocab.get(piece)
                    if cur is not None:
                        break
                    end -= 1
                if cur is None:
                    ids = [self.unk_id]
                    break
                ids.append(cur)
                start = end
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[word] = ids
        return ids

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        limit = self.max_length - 2
        out = []
        for text in texts:
            ids: list[int] = []
            for w in self._words(text):
                ids.extend(self._wordpiece(w))
                if len(ids) >= limit:
                    break
            out.append([self.cls_id, *ids[:limit], self.sep_id])
        return out


class HFTokenizer:
    """The ``tokenizers`` (Rust) tokeniser reading the shipped ``tokenizer.json``."""

    def __init__(self, tokenizer_json: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tokenizer_json))
        tok.no_padding()  # the shipped file pads to 128; we pad per batch ourselves
        tok.enable_truncation(max_length=max_length)
        self._tok = tok

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [enc.ids for enc in self._tok.encode_batch(list(texts), add_special_tokens=True)]

