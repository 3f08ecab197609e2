"""PP-OCR's models as the installed ``rapidocr-onnxruntime`` wheel ships them, and the onnxruntime sessions over them.

Nothing is ever downloaded: the three ONNX files come inside the wheel (``rapidocr_onnxruntime/models/``, installed by
scripts/bootstrap.sh from requirements-ppocr.txt). :func:`ppocr_models` finds them, says clearly which file is missing
and how to install it, and gives their SHA-256 (for dossier.json and the OCR cache key).

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

PACKAGE = "rapidocr_onnxruntime"
DISTRIBUTION = "rapidocr-onnxruntime"
VERSION = "1.4.4"
"""The pinned wheel (requirements-ppocr.txt): 3.x downloads its models on first use, which cannot work here."""

INSTALL = "scripts/bootstrap.sh (or: pip install --no-deps --require-hashes -r requirements-ppocr.txt)"
MODEL_FILES = {
    "det": "ch_PP-OCRv4_det_infer.onnx",
    "rec": "ch_PP-OCRv4_rec_infer.onnx",
    "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
}
"""The three models the wheel ships: text-line detector, recogniser, line-angle classifier (0°/180°)."""


class EngineMissing(ProfileError):
    """The profile names an OCR engine whose package or model files are not installed."""


@dataclass(frozen=True)
class ModelFile:
    """One model file: its role, path, size and SHA-256."""

    role: str
    path: Path
    bytes: int
    sha256: str


@dataclass(frozen=True)
class PpocrModels:
    """The installed PP-OCR: package version, onnxruntime version, and its model files."""

    version: str
    runtime: str
    files: tuple[ModelFile, ...]

    def path(self, role: str) -> Path:
        """The model file of a role (det, rec or cls)."""
        return next(f.path for f in self.files if f.role == role)


def _package_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EngineMissing(f"the OCR engine ppocr needs the Python package {DISTRIBUTION} {VERSION}, which is not "
                            f"installed: run {INSTALL}")
    return Path(spec.origin).parent


@lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def ppocr_models() -> PpocrModels:
    """The installed models with their SHA-256; raises :class:`EngineMissing` naming a missing file and the install
    command. Digests are computed once per file version (~40 ms for the three)."""
    folder = _package_dir() / "models"
    files = []
    for role, name in MODEL_FILES.items():
        path = folder / name
        try:
            st = path.stat()
        except OSError as exc:
            raise EngineMissing(f"PP-OCR model file {path} is missing ({exc.strerror}): reinstall {DISTRIBUTION} "
                                f"{VERSION} with {INSTALL}") from exc
        files.append(ModelFile(role, path, st.st_size, _digest(str(path), st.st_size, st.st_mtime_ns)))
    try:
        version = importlib.metadata.version(DISTRIBUTION)
        runtime = importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError as exc:
        raise EngineMissing(f"the OCR engine ppocr needs {exc.name}, which is not installed: run {INSTALL}") from exc
    return PpocrModels(version, runtime, tuple(files))


def session(path: Path):
    """An onnxruntime session over one model file, its graph simplified (``_ppocr_graph.py``): one thread, no
    spinning, arena on, memory patterns off."""
    import onnxruntime as ort

    from pipeline.ocr._ppocr_graph import fused_model

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
    return ort.InferenceSession(fused_model(path), sess_options=so, providers=["CPUExecutionProvider"])
