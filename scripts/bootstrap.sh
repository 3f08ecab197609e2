#!/usr/bin/env bash
# Install what is missing, and nothing else: the Debian packages the pipeline and its tests call, and a .venv with
# the project installed. Safe to run again: a second run checks and skips.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng tesseract-ocr-osd   # OCR
  qpdf poppler-utils                                                        # structural check, pdftotext
  fonts-wqy-zenhei                                                          # the CJK TrueType font embedded in volumes
  fonts-arphic-ukai fonts-arphic-uming                                      # only for synthetic sample/test pages
  icc-profiles-free                                                         # sRGB ICC v2 for the PDF/A OutputIntent
  default-jre-headless libpdfbox2-java libactivation-java libjaxb-api-java  # PDFBox Preflight (PDF/A-1b validator)
  softhsm2                                                                  # a real PKCS#11 token for signing tests
  libtiff6                                                                  # G4 page images (pipeline/g4.py)
  chromium                                                                  # the browser tests (driven by Playwright)
  postgresql-15                                                             # the access database tests on PostgreSQL
  make
)
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
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing the project into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  touch "$stamp"
else
  echo "bootstrap: .venv up to date"
fi
