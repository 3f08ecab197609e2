"""The files of an embedded store, which a client needs to reach it: endpoint, bucket and generated credentials.

The store process itself is run by :mod:`pipeline.storage._embedded`; clients (``StoreConfig.embedded``) read only
these files, so they need nothing of the process.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from pipeline.common import write_private
from pipeline.errors import StoreError

DEFAULT_BASE_PORT = 8333
DEFAULT_BUCKET = "dossiers"
GRPC_OFFSET = 10000
PORT_NAMES = ("s3", "filer", "master", "volume", "admin")
"""Services in base-port order: service i listens on base+i and gRPC on base+i+10000."""


def port_plan(base: int) -> dict[str, int]:
    """Every port an instance with this base port uses, by flag name of ``weed mini``."""
    if not 1024 <= base <= 65535 - GRPC_OFFSET - len(PORT_NAMES):
        raise StoreError(f"store base port {base} out of range 1024..{65535 - GRPC_OFFSET - len(PORT_NAMES)}")
    plan: dict[str, int] = {}
    for i, name in enumerate(PORT_NAMES):
        plan[f"{name}.port"] = base + i
        plan[f"{name}.port.grpc"] = base + i + GRPC_OFFSET
    return plan


@dataclass(frozen=True)
class Credentials:
    """The generated S3 identity of an embedded store."""

    access_key: str
    secret_key: str

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r}, secret_key='***')"


class EmbeddedFiles:
    """The files of an embedded store in ``<state_dir>/store/``: where they are, its endpoint and credentials."""

    def __init__(self, state_dir: Path, base_port: int | None = None, bucket: str | None = None):
        # absolute: the running process is recognised by the -dir= it was started with, so a relative path (the CLI's
        # default ./.state) must not make a live store look foreign and lose its pid file
        self.state_dir = Path(state_dir).resolve()
        self.root = self.state_dir / "store"
        saved = self._saved_server()
        self.base_port = base_port or saved.get("base_port") or DEFAULT_BASE_PORT
        self.bucket = bucket or saved.get("bucket") or DEFAULT_BUCKET
        port_plan(self.base_port)  # validates the range

    # ---------------------------------------------------------------------------------------------------- paths
    @property
    def data_dir(self) -> Path:
        """SeaweedFS data folder."""
        return self.root / "data"

    @property
    def pid_file(self) -> Path:
        """Pid file of the running process."""
        return self.root / "weed.pid"

    @property
    def credentials_file(self) -> Path:
        """Generated credentials (mode 0600)."""
        return self.root / "credentials.json"

    @property
    def server_file(self) -> Path:
        """Base port, endpoint and bucket of this instance."""
        return self.root / "server.json"

    @property
    def log_file(self) -> Path:
        """stdout/stderr of the weed process."""
        return self.root / "logs" / "weed.out"

    @property
    def endpoint(self) -> str:
        """host:port of the S3 gateway."""
        return f"127.0.0.1:{self.base_port}"

    def _saved_server(self) -> dict:
        try:
            return json.loads((self.root / "server.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    # ---------------------------------------------------------------------------------------------- credentials
    def credentials(self, create: bool = False) -> Credentials:
        """The instance's S3 credentials; generated (random, 0600 file) when ``create`` and none exist yet."""
        try:
            data = json.loads(self.credentials_file.read_text(encoding="utf-8"))
            return Credentials(data["access_key"], data["secret_key"])
        except FileNotFoundError:
            if not create:
                raise StoreError(f"embedded store has no credentials in {self.credentials_file}: "
                                 "run 'dossier store start' first") from None
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(f"cannot read store credentials {self.credentials_file}: {exc}") from exc
        alphabet = string.ascii_uppercase + string.digits
        creds = Credentials("DSR" + "".join(secrets.choice(alphabet) for _ in range(17)), secrets.token_urlsafe(30))
        self.root.mkdir(parents=True, exist_ok=True)
        write_private(self.credentials_file,
                       json.dumps({"access_key": creds.access_key, "secret_key": creds.secret_key}) + "\n")
        return creds
