"""An Apache Airflow secrets backend that reads from a Secrets Gateway, and a client that writes through it."""

from airflow_secrets_gateway.backend import (
    __version__,
    SecretsGatewayAccessDenied,
    SecretsGatewayBackend,
    SecretsGatewayError,
    SecretsGatewayUnavailable,
    prefetch,
)
from airflow_secrets_gateway.client import (
    GatewayClient,
    SecretsGatewayPreconditionFailed,
    SecretsGatewayWriteRefused,
    WriteResult,
)

__all__ = [
    "GatewayClient",
    "SecretsGatewayAccessDenied",
    "SecretsGatewayBackend",
    "SecretsGatewayError",
    "SecretsGatewayPreconditionFailed",
    "SecretsGatewayUnavailable",
    "SecretsGatewayWriteRefused",
    "WriteResult",
    "prefetch",
]
