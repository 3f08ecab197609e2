"""PP-OCR over onnxruntime: text lines found by the PP-OCRv6 small detector, read by its recogniser, and each
character placed where the recogniser saw it.

The models, the DB box post-processing and the character list are RapidOCR's (rapidocr 3.10.0's wheel), driven here
so that what was measured to matter can be set. Measured again for PP-OCRv6 on bench/ocr_engines.py's pages (the
same 84 degraded pages for every setting; the v4 figures were the lab's, /tmp/ppocr-lab/REPORT.md):

- the detector reads the page scaled to at most ``det_side`` pixels (960) and only the part of it that holds ink
  (the margins are a third of an A4 page), while lines are cut from the full-resolution page (v4: 0.2 CPU-s instead
  of 1.0 at the library's 2000, same error rate; not measured again at other sides for v6, whose unsealed pages read
  with 0.10 % errors at 960);
- lines go to the recogniser one at a time, whole (v4: cutting them into pieces of 320 columns lost the context that
  tells 。 from o, CER 1.8 % -> 2.9 %; kept, not measured again);
- each line's box is given ``margin`` of its height again above and below (edge rows repeated) before it is scaled
  to the recogniser's 48 pixels: 0.15 (v6: CER 1.35 % at 0.15 against 1.39 % at 0.25, the same 84 pages);
- the graph rewrite made for v4 (hard-swish chains as HardSigmoid, scalar affines folded) is gone: PP-OCRv6's
  graphs hold none of those chains (0 found), and onnxruntime fuses what they have;
- what v6 reads unlike v4 is fixed character for character (on 18 of the 22 pages v6 read worse than v4, these were
  the errors): traditional forms outside GB 2312 (盜 說 蕭 黃) reported as their simplified forms
  (:func:`simplified_labels`), ``?`` and ``!`` after Han as full-width; and table cells kept in their row
  (:func:`reading_order`). With these, v6 reads the unsealed pages with
  0.10 % errors against v4's 0.36 %;
- no angle classifier: pages arrive upright from imaging;
- each character's x-range comes from the recogniser's CTC columns (the step where its label starts), tiled
  between neighbours so that a text layer shows no gaps (tests/test_textlayer_positions.py holds it for v6).

One :class:`PpocrReader` holds two sessions (~60 MB, ~100 MB more while it reads); it is used by one thread at a
time (the pool in ``_ppocr_engine.py``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from pipeline.ocr._ppocr_models import PpocrModels, session
from pipeline.ocr._settings import DET_SIDE

REC_HEIGHT = 48
"""The recogniser's input height."""

MARGIN = 0.15
"""A line's box is read with this share of its height added above and below."""

TEXT_SCORE = 0.5
"""Lines the recogniser reads with a lower mean character probability are dropped (the library's default)."""

BOX_THRESH, UNCLIP, DB_THRESH = 0.5, 1.6, 0.3
"""The detector's post-processing (the library's defaults)."""

SAME_LENGTH_FIXES = (
    (re.compile("丶"), "、"),  # the enumeration comma read as the radical (29 % of its errors on the lab's pages)
    (re.compile("眞"), "真"),  # the old form, which simplified-Chinese case files never print
    (re.compile(r"(?<=[\u4e00-\u9fff])\.(?![0-9])"), "。"),  # after a Han character: Chinese punctuation
    (re.compile(r"(?<=[\u4e00-\u9fff]),"), "，"),
    (re.compile(r"(?<=[\u4e00-\u9fff]):"), "："),
    (re.compile(r"(?<=[\u4e00-\u9fff]);"), "；"),
    (re.compile(r"(?<=[\u4e00-\u9fff])\?"), "？"),  # PP-OCRv6 reads the full-width question mark as ASCII
    (re.compile(r"(?<=[\u4e00-\u9fff])!"), "！"),
    (re.compile(r"(?<=[一二三四五六七八九〇])[O0oО○](?=[一二三四五六七八九〇年])"), "〇"),  # 二〇二四年
)
"""What the recogniser reads in place of what Chinese case files print, fixed character for character (so positions
stay): each measured on bench/ocr_engines.py's pages."""

YEAR = re.compile(r"[〔【\[]([0-9]{4})[〕】\]]|[（(]([0-9]{4})[）)]")
"""A year in brackets: 〔2024〕 in a document number (GB/T 9704), （2024） in a case number; the recogniser mixes
〔〕 with 【】 and [], and full-width parentheses with half-width ones."""


def fix_text(text: str) -> str:
    """A line's text with the recogniser's known confusions fixed; always the same length."""
    for pattern, good in SAME_LENGTH_FIXES:
        text = pattern.sub(good, text)
    return YEAR.sub(lambda m: f"〔{m.group(1)}〕" if m.group(1) else f"（{m.group(2)}）", text)


@dataclass(frozen=True)
class RawChar:
    """One recognised character: its text, x-range in page pixels and probability (0-1)."""

    text: str
    x0: float
    x1: float
    prob: float


@dataclass(frozen=True)
class RawLine:
    """One recognised line: its characters, the box of its ink in page pixels, and its mean probability."""

    chars: tuple[RawChar, ...]
    x0: int
    y0: int
    x1: int
    y1: int
    score: float

    @property
    def text(self) -> str:
        """The line's characters as the recogniser read them (spaces included)."""
        return "".join(c.text for c in self.chars)


def _ordered(box: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    xs = box[np.argsort(box[:, 0])]
    left, right = xs[:2], xs[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def reading_order(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Boxes top to bottom in rows, left to right within a row. A box is in the row of the box above it when its
    middle lies within half that box's height of the other's middle: the cells of a table row (a one-digit 编号 is
    a shorter box than the Han words beside it) stay together, where RapidOCR's tops-within-10-px rule split them
    (bench/ocr_engines.py, the 扣押物品清单 pages)."""
    rows: list[list[np.ndarray]] = []
    for box in sorted(boxes, key=lambda b: (b[0][1] + b[3][1]) / 2):
        mid, height = (box[0][1] + box[3][1]) / 2, box[3][1] - box[0][1]
        if rows:
            last = rows[-1][0]
            last_mid, last_height = (last[0][1] + last[3][1]) / 2, last[3][1] - last[0][1]
            if abs(mid - last_mid) < 0.5 * min(height, last_height):
                rows[-1].append(box)
                continue
        rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda b: b[0][0])]


def _in_gb2312(char: str) -> bool:
    """Whether GB 2312 (the simplified characters of everyday print) encodes the character."""
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


SIMPLIFIED_NAMES = frozenset("昇")
"""Characters outside GB 2312 that t2s would simplify but that simplified Chinese keeps for names (通用规范汉字表)."""


@lru_cache(maxsize=4)
def _simplified_labels(keys: str) -> np.ndarray:
    return simplified_labels(np.array(["", *keys.split("\n"), " "], dtype=object))


def simplified_labels(charset: np.ndarray) -> np.ndarray:
    """For each label of the recogniser, the label it is reported as: a traditional form outside GB 2312 (盜 說 蕭
    黃, which PP-OCRv6's character set holds and simplified-Chinese case files never print) as its simplified form
    (OpenCC's t2s), when the recogniser has that one; every other label as itself. Characters GB 2312 encodes are
    never changed (乾 著 於 are simplified characters too), nor are rare characters of names (喆 堃 翀 洺), which t2s
    leaves as they are."""
    import opencc

    index = {c: i for i, c in enumerate(charset)}
    labels = np.arange(len(charset))
    foreign = [(i, c) for i, c in enumerate(charset) if len(c) == 1 and "\u3400" <= c <= "\u9fff" and not _in_gb2312(c)]
    converted = opencc.OpenCC("t2s").convert("\n".join(c for _, c in foreign)).split("\n")
    for (i, c), s in zip(foreign, converted):
        if s != c and s in index and c not in SIMPLIFIED_NAMES:
            labels[i] = index[s]
    return labels


def ink_threshold(grey: np.ndarray) -> float | None:
    """A grey level between ink and paper in an image of text, None when it shows no contrast (no ink)."""
    lo, hi = np.percentile(grey, (2, 90))
    return None if hi - lo < 40 else float(lo + hi) / 2


class PpocrReader:
    """One worker's PP-OCR: a detector and a recogniser session, loaded once, used by one thread at a time."""

    def __init__(self, models: PpocrModels, det_side: int = DET_SIDE, margin: float = MARGIN):
        """Load the detector and recogniser of the installed models (~0.3 s)."""
        from rapidocr.ch_ppocr_det.utils import DBPostProcess

        self.det_side, self.margin = det_side, margin
        self.det = session(models.path("det"))
        self.rec = session(models.path("rec"))
        self._det_input = self.det.get_inputs()[0].name
        self._rec_input = self.rec.get_inputs()[0].name
        keys = self.rec.get_modelmeta().custom_metadata_map["character"]
        self.charset = np.array(["", *keys.splitlines(), " "], dtype=object)  # CTC blank first, space last
        self.simplified = _simplified_labels("\n".join(keys.splitlines()))  # once per process
        self.post = DBPostProcess(thresh=DB_THRESH, box_thresh=BOX_THRESH, max_candidates=1000,
                                  unclip_ratio=UNCLIP, score_mode="fast", use_dilation=True)

    # -- detection ---------------------------------------------------------------------------------------------------

    def detect(self, grey: np.ndarray) -> list[np.ndarray]:
        """Boxes (4 points, page pixels) of the text lines of a grey page, in reading order."""
        h, w = grey.shape
        ratio = min(1.0, self.det_side / max(h, w))
        x0, y0, x1, y1 = inked_region(grey, round(32 / ratio))
        rh, rw = max(32, round((y1 - y0) * ratio / 32) * 32), max(32, round((x1 - x0) * ratio / 32) * 32)
        small = cv2.resize(grey[y0:y1, x0:x1], (rw, rh))
        tensor = np.empty((1, 3, rh, rw), dtype=np.float32)
        tensor[0] = small.astype(np.float32) * (1 / 127.5) - 1.0  # (v / 255 - 0.5) / 0.5 in every channel
        pred = self.det.run(None, {self._det_input: tensor})[0]
        boxes, _ = self.post(pred, (y1 - y0, x1 - x0))
        kept = []
        for box in boxes:
            box = _ordered(box.astype(np.float32) + np.array([x0, y0], dtype=np.float32))
            box[:, 0] = np.clip(box[:, 0], 0, w - 1)
            box[:, 1] = np.clip(box[:, 1], 0, h - 1)
            if np.linalg.norm(box[0] - box[1]) > 3 and np.linalg.norm(box[0] - box[3]) > 3:
                kept.append(box)
        return reading_order(kept)

    # -- recognition -------------------------------------------------------------------------------------------------

    def read_crop(self, crop: np.ndarray) -> list[RawChar]:
        """The characters of one line image (grey, text running across), x in the crop's pixels."""
        h, w = crop.shape
        width = max(8, math.ceil(w * REC_HEIGHT / h))
        tensor = np.empty((1, 3, REC_HEIGHT, width), dtype=np.float32)
        tensor[0] = cv2.resize(crop, (width, REC_HEIGHT)).astype(np.float32) * (1 / 127.5) - 1.0
        preds = self.rec.run(None, {self._rec_input: tensor})[0][0]
        labels = self.simplified[preds.argmax(axis=1)]
        column = width / len(labels) * h / REC_HEIGHT  # crop pixels a CTC column
        first = np.ones(len(labels), dtype=bool)
        first[1:] = labels[1:] != labels[:-1]
        found = [(self.charset[labels[t]], (t + 0.5) * column, float(preds[t, labels[t]]))
                 for t in np.flatnonzero(first & (labels != 0))]
        return _tile(found, w)

    def read_line(self, grey: np.ndarray, box: np.ndarray | None = None) -> RawLine | None:
        """One line: the box's crop of the page (the image's ink when None), None when nothing legible is in it."""
        crop, (ox, oy) = _crop(grey, box)
        if crop.shape[0] < 4 or crop.shape[1] < 4:
            return None
        y0, y1 = _ink_rows(crop)
        if crop.shape[0] >= 1.5 * crop.shape[1]:  # a line running down the page: read it turned, placed whole
            chars = [RawChar(c.text, 0.0, float(crop.shape[1]), c.prob)
                     for c in self.read_crop(np.ascontiguousarray(np.rot90(crop)))]
        else:
            chars = self.read_crop(_with_margin(crop, self.margin))
        chars = [c for c in chars if c.text]
        if not chars:
            return None
        score = sum(c.prob for c in chars) / len(chars)
        if score < TEXT_SCORE:
            return None
        fixed = fix_text("".join(c.text for c in chars))
        placed = tuple(RawChar(t, ox + c.x0, ox + c.x1, c.prob) for t, c in zip(fixed, chars))
        return RawLine(placed, ox, oy + y0, ox + crop.shape[1], oy + y1, score)

    def read_page(self, grey: np.ndarray) -> list[RawLine]:
        """Every line of a grey page, in reading order."""
        lines = (self.read_line(grey, box) for box in self.detect(grey))
        return [ln for ln in lines if ln is not None]


def inked_region(grey: np.ndarray, pad: int) -> tuple[int, int, int, int]:
    """The part of a page that holds ink, ``pad`` pixels around it: (x0, y0, x1, y1). The detector reads only that
    (at the page's scale): the margins, a third of an A4 page, cost it nothing. Ink is sought on every fourth pixel
    and must touch two samples of a row or column, so a speck of dust does not stretch the region."""
    h, w = grey.shape
    sample = grey[::4, ::4]
    thr = ink_threshold(sample)
    if thr is None:
        return 0, 0, w, h
    ink = sample < thr
    rows, cols = np.flatnonzero(ink.sum(axis=1) >= 2), np.flatnonzero(ink.sum(axis=0) >= 2)
    if not len(rows) or not len(cols):
        return 0, 0, w, h
    return (max(0, 4 * int(cols[0]) - pad), max(0, 4 * int(rows[0]) - pad), min(w, 4 * int(cols[-1]) + 4 + pad),
            min(h, 4 * int(rows[-1]) + 4 + pad))


def _tile(found: list[tuple[str, float, float]], width: int) -> list[RawChar]:
    """Characters' x-ranges from their centres: boundaries half-way between neighbours, the ends half a pitch out."""
    if not found:
        return []
    centres = np.array([c for _, c, _ in found])
    pitch = float(np.median(np.diff(centres))) if len(centres) > 1 else float(width)
    bounds = [max(0.0, centres[0] - pitch / 2), *((centres[1:] + centres[:-1]) / 2).tolist(),
              min(float(width), centres[-1] + pitch / 2)]
    return [RawChar(t, bounds[i], bounds[i + 1], p) for i, (t, _, p) in enumerate(found)]


def _ink_box(grey: np.ndarray) -> np.ndarray:
    """A line image's box about as the detector would draw it: its ink, with 15 % of the ink's height above and below
    and twice that before and after."""
    h, w = grey.shape
    thr = ink_threshold(grey)
    ink = grey < thr if thr is not None else np.zeros((h, w), dtype=bool)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not len(rows):
        return np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    pad = (rows[-1] + 1 - rows[0]) * 0.15
    x0, x1 = max(0.0, cols[0] - 2 * pad), min(w - 1.0, cols[-1] + 2 * pad)
    y0, y1 = max(0.0, rows[0] - pad), min(h - 1.0, rows[-1] + pad)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def _crop(grey: np.ndarray, box: np.ndarray | None) -> tuple[np.ndarray, tuple[int, int]]:
    """A line's pixels (straightened if the box is tilted; the whole image's ink when there is no box) and where the
    crop's origin lies on the page."""
    if box is None:
        box = _ink_box(grey)
    x0, y0 = np.floor(box.min(axis=0)).astype(int)
    x1, y1 = np.ceil(box.max(axis=0)).astype(int)
    if abs(box[0][1] - box[1][1]) <= 1 and abs(box[0][0] - box[3][0]) <= 1:
        return grey[y0 : y1 + 1, x0 : x1 + 1], (int(x0), int(y0))
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    crop = cv2.warpPerspective(grey, m, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return crop, (int(x0), int(y0))


def _with_margin(crop: np.ndarray, margin: float) -> np.ndarray:
    """The crop with ``margin`` of its height added above and below, its edge rows repeated."""
    pad = round(crop.shape[0] * margin)
    return cv2.copyMakeBorder(crop, pad, pad, 0, 0, cv2.BORDER_REPLICATE) if pad > 0 else crop


def _ink_rows(crop: np.ndarray) -> tuple[int, int]:
    """The rows of a line crop its ink spans (the detector's box adds a margin around it): (first, last + 1)."""
    thr = ink_threshold(crop)
    if thr is None:
        return 0, crop.shape[0]
    rows = np.flatnonzero((crop < thr).sum(axis=1) >= max(1, crop.shape[1] // 200))
    return (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, crop.shape[0])
