#!/usr/bin/env bash
# Install what is missing, and nothing else: the Debian packages the pipeline and its tests call, and a .venv with
# the project installed. Safe to run again: a second run checks and skips. `--bench` adds what the benchmarks compare
# against (OCRmyPDF and the Ghostscript it converts with: bench/throughput.py's run c; the PP-OCRv4 reference of
# bench/ocr_engines.py, rapidocr-onnxruntime, never a product dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=0
[ "${1:-}" = "--bench" ] && BENCH=1

DEBIAN_PACKAGES=(
  tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng tesseract-ocr-osd   # OCR
  qpdf poppler-utils                                                        # structural check, pdftotext
  fonts-wqy-zenhei                                                          # the CJK TrueType font embedded in volumes
  fonts-hanazono                                                            # TrueType for CJK it lacks (Ext. B: 𠮷)
  fonts-arphic-ukai fonts-arphic-uming                                      # only for synthetic sample/test pages
  icc-profiles-free                                                         # sRGB ICC v2 for the PDF/A OutputIntent
  default-jre-headless libpdfbox2-java libactivation-java libjaxb-api-java  # PDFBox Preflight (PDF/A-1b validator)
  softhsm2                                                                  # a real PKCS#11 token for signing tests
  libtiff6                                                                  # G4 page images (pipeline/g4.py)
  chromium                                                                  # the browser tests (driven by Playwright)
  postgresql-15                                                             # the access database tests on PostgreSQL
  make
)
((BENCH)) && DEBIAN_PACKAGES+=(ghostscript)                                  # OCRmyPDF's PDF/A conversion
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "bootstrap: Debian packages present"
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements-ppocr.txt -nt "$stamp" ]; then
  echo "bootstrap: installing the project into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev,ppocr]"
  # PP-OCR's wheel (its models inside), pinned by hash; what it imports comes from the `ppocr` extra above
  .venv/bin/pip install -q --no-deps --require-hashes -r requirements-ppocr.txt
  touch "$stamp"
else
  echo "bootstrap: .venv up to date"
fi
if ((BENCH)) && ! { .venv/bin/pip show -q ocrmypdf && .venv/bin/pip show -q py-spy; } >/dev/null 2>&1; then
  echo "bootstrap: installing the benchmarks' extras into .venv"
  .venv/bin/pip install -q -e ".[bench]"
fi
if ((BENCH)) && ! .venv/bin/pip show -q rapidocr-onnxruntime >/dev/null 2>&1; then
  # the PP-OCRv4 reference, without its dependencies: its metadata names opencv-python, whose cv2 would overwrite
  # opencv-python-headless's (checked below)
  echo "bootstrap: installing the PP-OCRv4 reference (bench only) into .venv"
  .venv/bin/pip install -q --no-deps --require-hashes -r requirements-bench.txt
fi
if .venv/bin/pip show -q opencv-python >/dev/null 2>&1; then
  echo "bootstrap: opencv-python is installed beside opencv-python-headless (both write cv2/): uninstall both," \
       "then run 'pip install --force-reinstall opencv-python-headless'" >&2
  exit 1
fi
