"""What the soak run's scanning rooms drop, and how they drop it.

Pages come from a pool of realistic scanned pages (``samples/synthetic.py``, the mix of ``bench/throughput.py``:
G4 TIFF and grey JPEG text pages, colour red-headed and sealed pages, tables, photos, blank backs, skew, a page upside
down now and then), generated once and cached on disk, so that a rerun starts at once. Every batch takes its own
pages from the pool; the seed decides sizes, rooms, drop styles and timing.

Drop styles, the ways rooms really deliver a batch:

- ``rename``: copied into a hidden ``.name.incoming`` folder, READY written, renamed into the room (the safe way)
- ``slow``: files copied one by one into the batch folder over seconds, READY last
- ``marker-first``: READY written first, then the files (the room's quiet period decides)
- ``rsync``: each file written under rsync's temporary name ``.file.XXXXXX`` and renamed, READY last
- ``again``: the same batch (same name, same files) dropped a second time once the first copy was taken
- ``corrupt``: one page cut short (the batch must end in quarantine with a reason naming the file)
"""

from __future__ import annotations

import io
import json
import os
import random
import secrets
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.throughput import MIX  # noqa: E402  (the page mix of a criminal case file)

POOL_VERSION = "v1"
STYLES = ("rename", "slow", "marker-first", "rsync")
TITLES = ("起诉书", "询问笔录", "扣押物品清单", "判决书", "逮捕证", "鉴定意见书")

AGENCY = "河南省封丘县人民法院"  # the agency every room is bound to (the rooms file) and whose clerk fetches


def _pool_plan(index: int) -> tuple[str, int, str]:
    pool = [(k, p, e) for k, p, e, share in MIX for _ in range(share)]
    return pool[random.Random(7700 + index).randrange(len(pool))]


def _make_page(args: tuple[int, str]) -> str:
    """Write page ``index`` of the pool into ``folder``; returns its file name."""
    index, folder = args
    from samples.synthetic import CaseFacts, synthetic_page

    kind, in_doc, enc = _pool_plan(index)
    rng = random.Random(index)
    page = synthetic_page(kind, 7_700_000 + index, dpi=300, skew=rng.uniform(-2.5, 2.5),
                          rotation_cw=180 if index % 23 == 11 else 0, specks=40,
                          bleed=0.05 if kind == "blank" else 0.0, page_in_doc=in_doc,
                          facts=CaseFacts.make(random.Random(index // 10), year=2025, number=700 + index // 10))
    buf = io.BytesIO()
    if enc == "g4":
        page.image.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1").save(
            buf, "TIFF", compression="group4", dpi=(300, 300))
        name = f"p{index:05d}.tif"
    else:
        (page.image.convert("L") if enc == "grey" else page.image.convert("RGB")).save(
            buf, "JPEG", quality=80, dpi=(300, 300))
        name = f"p{index:05d}.jpg"
    tmp = Path(folder) / f".{name}.{secrets.token_hex(3)}"
    tmp.write_bytes(buf.getvalue())
    tmp.rename(Path(folder) / name)
    return name


class PagePool:
    """Scanned pages by index, generated on first use and kept in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder / POOL_VERSION
        self.folder.mkdir(parents=True, exist_ok=True)

    def _existing(self) -> dict[int, Path]:
        return {int(p.stem[1:]): p for p in self.folder.glob("p*.*") if p.stem[1:].isdigit()}

    def ensure(self, count: int, workers: int = 2, log=print) -> None:
        """Make sure pages 0..count-1 exist (generating the missing ones, ``workers`` at a time)."""
        missing = sorted(set(range(count)) - set(self._existing()))
        if not missing:
            return
        started = time.monotonic()
        log(f"generating {len(missing)} pages into {self.folder} (cached for the next runs)")
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_make_page, [(i, str(self.folder)) for i in missing]))
        log(f"generated {len(missing)} pages in {time.monotonic() - started:.0f} s")

    def page(self, index: int) -> Path:
        """The file of page ``index``."""
        return self._existing()[index]


@dataclass
class Drop:
    """One batch as a room will drop it."""

    room: str
    name: str
    case_no: str
    pages: list[int]
    style: str
    at: float  # seconds after the start of dropping
    corrupt: bool = False
    again_at: float | None = None  # dropped a second time (same name, same files) this long after the first
    documents: list[dict] = field(default_factory=list)
    cut_page: str = ""  # the file cut short, when corrupt

    @property
    def label(self) -> str:
        """room/name."""
        return f"{self.room}/{self.name}"


def plan_drops(rng: random.Random, rooms: list[str], batches: int, pages: tuple[int, int], min_pages: int,
               window: float, duplicates: int, corrupt: int, tag: str,
               again: tuple[float, float] = (20.0, 60.0)) -> list[Drop]:
    """The batches of a run: sizes between ``pages``, at least ``min_pages`` in all, spread over ``window`` seconds;
    the duplicates dropped again ``again`` seconds (a range) after their first copy."""
    sizes = [rng.randint(*pages) for _ in range(batches)]
    while sum(sizes) < min_pages:
        i = rng.randrange(batches)
        sizes[i] = min(pages[1], sizes[i] + 1) if sizes[i] < pages[1] else sizes[i]
        if all(s == pages[1] for s in sizes):
            break
    drops, first = [], 0
    for i, size in enumerate(sizes):
        pages_of = list(range(first, first + size))
        drops.append(Drop(room=rooms[i % len(rooms)], name=f"b{i + 1:03d}-{rng.randrange(16**4):04x}",
                          case_no=f"（2025）豫0727刑初{tag}{i + 1:03d}号", pages=pages_of,
                          style=STYLES[rng.randrange(len(STYLES))], at=rng.uniform(0, window),
                          documents=_documents(pages_of, rng)))
        first += size
    for drop in rng.sample(drops, corrupt):
        drop.corrupt = True
    for drop in rng.sample([d for d in drops if not d.corrupt], duplicates):
        drop.again_at = rng.uniform(*again)
    return sorted(drops, key=lambda d: d.at)


def _documents(pages: list[int], rng: random.Random) -> list[dict]:
    """The room's document list: the pages cut into documents of random length, none of blank pages only (a room
    declares documents it can see; one of blank backs alone is sent to review, rightly)."""
    counts, left = [], len(pages)
    while left:
        n = min(left, rng.randint(1, max(1, len(pages) // 2)))
        counts.append(n)
        left -= n
    merged: list[int] = []
    at = leading = 0
    for n in counts:
        if all(_pool_plan(i)[0] == "blank" for i in pages[at:at + n]):
            if merged:
                merged[-1] += n
            else:
                leading += n  # goes with the first document that has a page to see
        else:
            merged.append(n + leading)
            leading = 0
        at += n
    if leading:
        merged = merged[:-1] + [(merged[-1] if merged else 0) + leading]
    return [{"title": TITLES[k % len(TITLES)], "pages": n} for k, n in enumerate(merged)]


def stage(drop: Drop, pool: PagePool, folder: Path) -> Path:
    """The batch's files as the room has them on its scanner PC: pages, batch.json (and the cut page)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, index in enumerate(drop.pages, start=1):
        source = pool.page(index)
        shutil.copyfile(source, folder / f"{n:03d}{source.suffix}")
    if drop.corrupt:
        victim = sorted(folder.iterdir())[len(drop.pages) // 2]
        data = victim.read_bytes()
        victim.write_bytes(data[: len(data) // 3])
        drop.cut_page = victim.name
    manifest = {"case_no": drop.case_no, "case_title": "浸泡测试案", "agency": AGENCY, "dpi": 300,
                "room": drop.room, "documents": drop.documents}
    (folder / "batch.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return folder


def deliver(source: Path, room: Path, name: str, style: str, rng: random.Random) -> None:
    """Drop a staged batch into a room folder the way ``style`` says."""
    files = sorted(p for p in source.iterdir() if p.is_file())
    if style == "rename":
        hidden = room / f".{name}.incoming"
        shutil.copytree(source, hidden)
        (hidden / "READY").write_bytes(b"")
        os.rename(hidden, room / name)
        return
    target = room / name
    target.mkdir()
    if style == "marker-first":
        (target / "READY").write_bytes(b"")
    for f in files:
        if style == "rsync":
            tmp = target / f".{f.name}.{''.join(rng.choices('ABCDEFGHabcdefgh0123456789', k=6))}"
            _copy_slowly(f, tmp, rng)
            os.rename(tmp, target / f.name)
        else:
            _copy_slowly(f, target / f.name, rng)
        time.sleep(rng.uniform(0.05, 0.6))
    if style != "marker-first":
        (target / "READY").write_bytes(b"")


def _copy_slowly(source: Path, target: Path, rng: random.Random) -> None:
    """Copy in pieces with pauses, like a copy over a slow share."""
    data = source.read_bytes()
    step = max(1, len(data) // rng.randint(2, 5))
    with open(target, "wb") as out:
        for at in range(0, len(data), step):
            out.write(data[at:at + step])
            out.flush()
            time.sleep(rng.uniform(0.01, 0.15))
