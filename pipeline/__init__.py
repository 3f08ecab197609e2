"""scan-to-dossier: scans of paper case files in, signed PDF/A volumes out. The library knows nothing of Prefect."""

__version__ = "0.1.0"
