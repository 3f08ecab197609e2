"""Look at a batch folder without opening anything: names, kinds of file, links, sizes and counts.

Everything here works from ``lstat`` (links are never followed) so that a hostile batch is refused before a single
byte of it is read: a named pipe would block the reader forever, a link would make us read (and publish) a file
from elsewhere, a sparse terabyte would keep the hasher busy for hours. Files are later opened only through
:func:`open_regular`, which checks again on the open descriptor what ``lstat`` saw on the name.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import BadInputError
from pipeline.models import InputPolicy

MANIFEST_NAME = "batch.json"
READY_MARKER = "READY"
IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png"}
PDF_SUFFIXES = {".pdf"}
PAGE_SUFFIXES = IMAGE_SUFFIXES | PDF_SUFFIXES
# Files scanners and desktops leave behind; skipped, never an error (but never links or pipes either).
IGNORED_NAMES = {MANIFEST_NAME, READY_MARKER, "Thumbs.db", "desktop.ini", "reason.txt"}
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # a batch.json listing thousands of documents is well under 1 MB


def natural_key(name: str) -> tuple[list[str | float], str]:
    """Sort key that orders p2 before p10: a run of digits (0-9 of any script, superscripts, ① to ⑨: every character
    with a digit value) compares as one number, and so does each other character that stands for a number (⑩ ㉑ ½);
    ``int('①')`` fails although ``'①'.isdigit()`` is true, so nothing here relies on either. The rest compares as
    lower-case text, and the name itself breaks ties (``1.jpg`` and ``01.jpg`` keep one order)."""
    key: list[str | float] = []  # text and numbers alternate, so that two keys always compare like with like
    text: list[str] = []
    number: int | None = None
    for ch in name:
        digit = unicodedata.digit(ch, None)
        if digit is not None:
            if number is None:
                key.append("".join(text).lower())
                text, number = [], 0
            number = number * 10 + digit
            continue
        if number is not None:
            key.append(number)
            number = None
        if unicodedata.category(ch) == "No":
            key += ["".join(text).lower(), unicodedata.numeric(ch)]
            text = []
        else:
            text.append(ch)
    if number is not None:
        key.append(number)
    key.append("".join(text).lower())
    return key, name


def shown(name: str) -> str:
    """A name as it may be printed: control, format and undecodable characters escaped, so that a hostile name
    cannot rewrite the line it is shown on (``\\x1b[2J``, right-to-left overrides)."""
    out = []
    for ch in name:
        if ch == "\\" or _bad_char(ch):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def _bad_char(ch: str) -> bool:
    if 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that was not UTF-8, kept by the file system's surrogateescape
        return True
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")  # controls, bidi and format marks, surrogates


def name_problem(name: str) -> str | None:
    """Why a file or folder name is refused (control or bidirectional-override characters, backslashes, bytes that
    are not UTF-8), or None when it is acceptable."""
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        return "its name holds bytes that are not UTF-8"
    bad = sorted({f"U+{ord(ch):04X}" for ch in name if _bad_char(ch)})
    if bad:
        return f"its name holds control or bidirectional formatting characters ({', '.join(bad[:4])})"
    if "\\" in name:
        return "its name holds a backslash"
    if not name.strip():
        return "its name is blank"
    return None


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


@dataclass(frozen=True)
class BatchFile:
    """A file of a batch as ``lstat`` saw it."""

    name: str
    size: int

    @property
    def is_page(self) -> bool:
        """A page file by its name (its content decides how it is decoded)."""
        return self.name not in IGNORED_NAMES and not self.name.startswith(".")


def refuse(name: str, problem: str) -> BadInputError:
    """The error for a refused file: its (printable) name, then the problem."""
    return BadInputError(f"{shown(name)}: {problem}", name)


def check_folder(path: Path, what: str = "batch folder") -> None:
    """A batch folder must be a real folder: not a link to one, with an acceptable name."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise BadInputError(f"{what} {shown(str(path))} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise BadInputError(f"{what} {shown(path.name)} is a symbolic link, not a folder: refused", path.name)
    if not stat.S_ISDIR(st.st_mode):
        raise BadInputError(f"{what} {shown(str(path))} is not a folder", path.name)
    problem = name_problem(path.name)
    if problem:
        raise BadInputError(f"{what} {shown(path.name)}: {problem}", path.name)


def inspect_batch(batch_dir: Path, limits: InputPolicy) -> list[BatchFile]:
    """Every file of a batch folder in scan order (natural sort), after checking, without opening any of them, that
    each is a regular file with one link, an acceptable name, a page suffix (or a name we skip) and within the size
    limits, and that the batch is within the file and byte limits. Raises BadInputError naming the first bad file."""
    check_folder(batch_dir)
    entries = sorted(os.scandir(batch_dir), key=lambda e: natural_key(e.name))
    if len(entries) > limits.max_files:
        raise BadInputError(f"batch {shown(batch_dir.name)} holds {len(entries):,} files; the standard profile allows "
                            f"at most {limits.max_files:,}")
    found: list[BatchFile] = []
    total = 0
    for entry in entries:
        name = entry.name
        problem = name_problem(name)
        if problem:
            raise refuse(name, problem)
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode):
            raise refuse(name, f"unexpected folder in batch {shown(batch_dir.name)}")
        if not stat.S_ISREG(st.st_mode):
            raise refuse(name, f"{_kind(st.st_mode)}, not a regular file: refused without opening it")
        if st.st_nlink > 1:
            raise refuse(name, f"a hard link ({st.st_nlink} names for one file): refused, it can change from "
                               f"outside the batch")
        file = BatchFile(name, st.st_size)
        if file.is_page:
            if Path(name).suffix.lower() not in PAGE_SUFFIXES:
                raise refuse(name, "not a page image (accepted: .tif .tiff .jpg .jpeg .png .pdf)")
            if st.st_size == 0:
                raise refuse(name, "an empty file")
        limit = MAX_MANIFEST_BYTES if name == MANIFEST_NAME else limits.max_file_bytes
        if st.st_size > limit:
            raise refuse(name, f"{st.st_size:,} bytes; at most {limit:,} are accepted")
        total += st.st_size
        if total > limits.max_batch_bytes:
            raise BadInputError(f"batch {shown(batch_dir.name)} holds more than {limits.max_batch_bytes:,} bytes "
                                f"(the standard profile's limit) at {shown(name)}", name)
        found.append(file)
    if not any(f.is_page for f in found):
        raise BadInputError(f"batch {shown(batch_dir.name)} holds no page images", None)
    return found


def open_regular(path: Path) -> int:
    """Open a batch file for reading only if it is (still) a regular file with one link: the name is not followed
    if it is a link and a pipe never blocks the open. Returns the descriptor (blocking again); the caller closes it."""
    name = path.name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symbolic link
            raise refuse(name, "a symbolic link, not a regular file: refused without opening it") from None
        raise refuse(name, f"cannot be opened ({exc.strerror})") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse(name, f"{_kind(st.st_mode)}, not a regular file: refused without reading it")
        if st.st_nlink > 1:
            raise refuse(name, f"a hard link ({st.st_nlink} names for one file): refused")
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular batch file of at most ``max_bytes`` (checked on the open file before reading)."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise refuse(path.name, f"{size:,} bytes; at most {max_bytes:,} are accepted")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise refuse(path.name, f"grew beyond {max_bytes:,} bytes while being read")
    return data


def sha256_regular(path: Path, max_bytes: int, chunk: int = 1 << 20) -> tuple[str, int]:
    """SHA-256 and size of a regular batch file of at most ``max_bytes``, read once through :func:`open_regular`."""
    fd = open_regular(path)
    h, size = hashlib.sha256(), 0
    with os.fdopen(fd, "rb") as fh:
        if os.fstat(fh.fileno()).st_size > max_bytes:
            raise refuse(path.name, f"{os.fstat(fh.fileno()).st_size:,} bytes; at most {max_bytes:,} are accepted")
        while block := fh.read(chunk):
            size += len(block)
            if size > max_bytes:
                raise refuse(path.name, f"grew beyond {max_bytes:,} bytes while being read")
            h.update(block)
    return h.hexdigest(), size
