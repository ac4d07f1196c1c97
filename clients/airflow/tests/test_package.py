"""The package's version is said once in the code (the User-Agent is built from it) and once in pyproject.toml."""

from __future__ import annotations

import re
from pathlib import Path

import airflow_secrets_gateway
from airflow_secrets_gateway.backend import USER_AGENT


def test_one_version_everywhere() -> None:
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'^version = "([^"]+)"$', pyproject, re.M)
    assert declared is not None
    assert airflow_secrets_gateway.__version__ == declared.group(1)
    assert USER_AGENT == f"airflow-secrets-gateway/{declared.group(1)}"
