"""The object store: settings and client, the embedded SeaweedFS, publishing (manifest last) and fetching, case keys."""

from pipeline.storage._casekey import case_key, case_no_from_key, normalise_case_no, printed_case_no, same_case
from pipeline.storage._config import StoreConfig
from pipeline.storage._disclosure import (
    DISCLOSURE_MANIFEST,
    DisclosureRef,
    disclosure_prefix,
    fetch_disclosure,
    load_disclosure,
    publish_disclosure,
)
from pipeline.storage._embedded import EmbeddedStore, free_base_port
from pipeline.storage._embedded_files import port_plan
from pipeline.storage._fetch import (
    ManifestRef,
    fetch_dossier,
    fetch_via_server,
    load_manifest,
    manifest_versions,
    published_cases,
    published_manifests,
    read_dossier_manifest,
    withdraw_dossier,
)
from pipeline.storage._layout import CATALOGUE_NAME, REPORT_NAME, DossierNotFound, IntegrityError, dossier_prefix
from pipeline.storage._publish import publish_dossier
from pipeline.storage._s3 import ObjectInfo, ObjectMissing, ObjectStore

__all__ = [
    "CATALOGUE_NAME",
    "DISCLOSURE_MANIFEST",
    "DisclosureRef",
    "DossierNotFound",
    "EmbeddedStore",
    "IntegrityError",
    "ManifestRef",
    "ObjectInfo",
    "ObjectMissing",
    "ObjectStore",
    "REPORT_NAME",
    "StoreConfig",
    "case_key",
    "case_no_from_key",
    "disclosure_prefix",
    "dossier_prefix",
    "fetch_disclosure",
    "fetch_dossier",
    "fetch_via_server",
    "free_base_port",
    "load_disclosure",
    "load_manifest",
    "manifest_versions",
    "normalise_case_no",
    "port_plan",
    "printed_case_no",
    "same_case",
    "publish_disclosure",
    "published_cases",
    "publish_dossier",
    "published_manifests",
    "read_dossier_manifest",
    "withdraw_dossier",
]
