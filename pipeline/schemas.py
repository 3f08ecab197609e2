"""Generate the JSON Schemas in ``schemas/`` from the contract models: ``python -m pipeline.schemas [DIR]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from pipeline import models

SCHEMAS: dict[str, type[BaseModel]] = {
    "batch.schema.json": models.BatchManifest,
    "separator.schema.json": models.SeparatorPayload,
    "standard.schema.json": models.StandardProfile,
    "dossier.schema.json": models.DossierManifest,
    "catalogue.schema.json": models.Catalogue,
    "report.schema.json": models.Report,
    "disclosure-profile.schema.json": models.DisclosureProfile,
    "disclosure.schema.json": models.DisclosureManifest,
    "status.schema.json": models.StatusReport,
    "case-history.schema.json": models.CaseHistory,
}

SCHEMA_BASE_URI = "https://scan-to-dossier.example.org/schemas/"


def schema_text(name: str, model: type[BaseModel]) -> str:
    """The JSON Schema of one model as the text written to disk."""
    schema = model.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_BASE_URI + name, **schema}
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    """Write every schema into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = folder / name
        path.write_text(schema_text(name, model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "schemas"
    for p in write_schemas(target):
        print(p)
