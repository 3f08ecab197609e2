"""Bearer tokens and per-agency grants for the fetch service, kept in the object store so every instance agrees.

- ``system/tokens/<token-id>.json``: agency, label, created, revoked, and the SHA-256 of the token's secret part.
  Tokens are 256-bit random, so a plain SHA-256 is enough (a slow password hash defends low-entropy secrets only);
  the token itself is shown once, by ``dossier token create``, and never stored.
- ``system/grants/<case-key>.json``: agencies granted a case besides those in its manifest, and agencies whose
  access was revoked (a revocation also overrides the manifest's ``grants``; the owning agency always has access).

Service instances cache token and grant records for ``cache_ttl`` seconds (default 5): a revocation takes effect
everywhere within that time. Grant changes are read-modify-write of one small object; concurrent administrators
changing the same case at the same instant could lose one change (the audit log shows both).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass, field

from pipeline.common import utcnow
from pipeline.errors import DossierError
from pipeline.models import DossierManifest
from pipeline.storage import ObjectMissing, ObjectStore, case_key, normalise_case_no

TOKEN_PREFIX = "system/tokens/"
GRANT_PREFIX = "system/grants/"
TOKEN_MARK = "dos_"
_TOKEN_RE = re.compile(r"dos_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_ID_RE = re.compile(r"[0-9a-f]{12}")


class AuthError(DossierError):
    """A token is missing, malformed, unknown or revoked."""


def normalise_agency(name: str) -> str:
    """An agency name as compared and stored: NFKC, inner whitespace collapsed, validated."""
    if not isinstance(name, str):
        raise DossierError("agency name must be text")
    text = " ".join(unicodedata.normalize("NFKC", name).split())
    if not text:
        raise DossierError("agency name is empty")
    if len(text) > 100:
        raise DossierError(f"agency name is too long ({len(text)} characters, at most 100)")
    bad = [ch for ch in text if unicodedata.category(ch)[0] == "C"]
    if bad:
        raise DossierError(f"agency name contains a control or invisible character U+{ord(bad[0]):04X}")
    return text


def _now() -> str:
    return utcnow().isoformat(timespec="seconds")


@dataclass(frozen=True)
class TokenRecord:
    """A stored token (without its secret)."""

    id: str
    agency: str
    secret_sha256: str
    created: str
    label: str = ""
    revoked: str | None = None


@dataclass(frozen=True)
class Principal:
    """Who is asking: the token id and its agency."""

    token_id: str
    agency: str


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed token (for audit entries of refused requests), else None."""
    m = _TOKEN_RE.fullmatch(token or "")
    return m.group(1) if m else None


class _TtlCache:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self._data: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1], True
        return None, False

    def put(self, key: str, value: object) -> None:
        with self._lock:
            if len(self._data) > 10_000:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def drop(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


class TokenStore:
    """Create, list, revoke and check bearer tokens."""

    def __init__(self, store: ObjectStore, cache_ttl: float = 5.0):
        self.store = store
        self._cache = _TtlCache(cache_ttl)

    def _load(self, token_id: str) -> TokenRecord | None:
        try:
            data = json.loads(self.store.get_bytes(f"{TOKEN_PREFIX}{token_id}.json", limit=65536))
            return TokenRecord(**data)
        except ObjectMissing:
            return None
        except (ValueError, TypeError) as exc:
            raise AuthError(f"token record {token_id} in the store is unreadable: {exc}") from exc

    def _save(self, record: TokenRecord) -> None:
        data = json.dumps(asdict(record), ensure_ascii=False, indent=1).encode("utf-8")
        self.store.put_bytes(f"{TOKEN_PREFIX}{record.id}.json", data, "application/json")
        self._cache.drop(record.id)

    def create(self, agency: str, label: str = "") -> tuple[str, TokenRecord]:
        """A new token for an agency: (the token, shown once; its stored record)."""
        agency = normalise_agency(agency)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        record = TokenRecord(id=token_id, agency=agency, secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                             created=_now(), label=label[:200])
        self._save(record)
        return f"{TOKEN_MARK}{token_id}_{secret}", record

    def list(self) -> list[TokenRecord]:
        """Every token record, oldest first."""
        records = []
        for info in self.store.list_keys(TOKEN_PREFIX):
            token_id = info.key[len(TOKEN_PREFIX):].removesuffix(".json")
            if _ID_RE.fullmatch(token_id):
                record = self._load(token_id)
                if record is not None:
                    records.append(record)
        return sorted(records, key=lambda r: r.created)

    def revoke(self, token_id: str) -> TokenRecord:
        """Mark a token revoked (kept for the audit trail)."""
        token_id = token_id_of(token_id) or token_id
        if not _ID_RE.fullmatch(token_id or ""):
            raise AuthError(f"not a token id: {token_id!r}")
        record = self._load(token_id)
        if record is None:
            raise AuthError(f"no token with id {token_id}")
        if record.revoked is None:
            record = TokenRecord(**{**asdict(record), "revoked": _now()})
            self._save(record)
        return record

    def authenticate(self, token: str, cached_only: bool = False) -> Principal | None:
        """The principal of a valid token; AuthError for anything else. With ``cached_only``, None when the
        token's record is not in the cache (no store access: safe on an event loop)."""
        m = _TOKEN_RE.fullmatch(token or "")
        if not m:
            raise AuthError("malformed bearer token")
        token_id, secret = m.groups()
        record, hit = self._cache.get(token_id)
        if not hit:
            if cached_only:
                return None
            record = self._load(token_id)
            self._cache.put(token_id, record)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        if record is None or not hmac.compare_digest(digest, record.secret_sha256):
            raise AuthError("unknown token")
        if record.revoked:
            raise AuthError("token revoked")
        return Principal(token_id=token_id, agency=record.agency)


@dataclass(frozen=True)
class GrantRecord:
    """Grants of one case besides its manifest's."""

    case_no: str
    granted: tuple[str, ...] = ()
    revoked: tuple[str, ...] = ()
    updated: str = field(default="")


class GrantStore:
    """Per-case grants and revocations in ``system/grants/``."""

    def __init__(self, store: ObjectStore, cache_ttl: float = 5.0):
        self.store = store
        self._cache = _TtlCache(cache_ttl)

    @staticmethod
    def _key(case_no: str) -> str:
        return f"{GRANT_PREFIX}{case_key(case_no)}.json"

    def peek(self, case_no: str) -> GrantRecord | None:
        """The cached grant record, or None when it must be read from the store."""
        record, hit = self._cache.get(normalise_case_no(case_no))
        return record if hit else None

    def get(self, case_no: str, cached: bool = True) -> GrantRecord:
        """The case's grant record (empty when none was ever made)."""
        canonical = normalise_case_no(case_no)
        if cached:
            record, hit = self._cache.get(canonical)
            if hit:
                return record
        try:
            data = json.loads(self.store.get_bytes(self._key(canonical), limit=1 << 20))
            record = GrantRecord(case_no=canonical, granted=tuple(data.get("granted", ())),
                                 revoked=tuple(data.get("revoked", ())), updated=data.get("updated", ""))
        except ObjectMissing:
            record = GrantRecord(case_no=canonical)
        except (ValueError, TypeError, AttributeError) as exc:
            raise DossierError(f"grant record of case {canonical} is unreadable: {exc}") from exc
        self._cache.put(canonical, record)
        return record

    def _save(self, record: GrantRecord) -> GrantRecord:
        data = json.dumps({"case_no": record.case_no, "granted": sorted(record.granted),
                           "revoked": sorted(record.revoked), "updated": record.updated},
                          ensure_ascii=False, indent=1).encode("utf-8")
        self.store.put_bytes(self._key(record.case_no), data, "application/json")
        self._cache.drop(record.case_no)
        return record

    def grant(self, case_no: str, agency: str) -> GrantRecord:
        """Let an agency fetch a case (also lifts an earlier revocation)."""
        agency = normalise_agency(agency)
        current = self.get(case_no, cached=False)
        return self._save(GrantRecord(current.case_no, tuple(set(current.granted) | {agency}),
                                      tuple(set(current.revoked) - {agency}), _now()))

    def revoke(self, case_no: str, agency: str) -> GrantRecord:
        """Take an agency's access to a case away, including a grant in the manifest (not the owner's)."""
        agency = normalise_agency(agency)
        current = self.get(case_no, cached=False)
        return self._save(GrantRecord(current.case_no, tuple(set(current.granted) - {agency}),
                                      tuple(set(current.revoked) | {agency}), _now()))


def explicitly_granted(agency: str, grants: GrantRecord) -> bool:
    """True when a grant record (not a manifest) gives the agency access."""
    return agency in grants.granted and agency not in grants.revoked


def may_read(agency: str, manifest: DossierManifest, grants: GrantRecord) -> bool:
    """The access rule: the owning agency always; else a grant (manifest or record) not revoked."""
    agency = normalise_agency(agency)
    if manifest.agency and normalise_agency(manifest.agency) == agency:
        return True
    if agency in grants.revoked:
        return False
    manifest_grants = {normalise_agency(g) for g in manifest.grants if g.strip()}
    return agency in grants.granted or agency in manifest_grants
