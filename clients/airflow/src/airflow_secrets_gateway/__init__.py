"""An Apache Airflow secrets backend that reads from a Secrets Gateway."""

from airflow_secrets_gateway.backend import (
    SecretsGatewayAccessDenied,
    SecretsGatewayBackend,
    SecretsGatewayError,
    SecretsGatewayUnavailable,
    prefetch,
)

__all__ = [
    "SecretsGatewayAccessDenied",
    "SecretsGatewayBackend",
    "SecretsGatewayError",
    "SecretsGatewayUnavailable",
    "prefetch",
]
__version__ = "0.2.0"
