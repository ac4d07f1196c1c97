"""An Apache Airflow secrets backend that reads from a Secrets Gateway."""

from airflow_secrets_gateway.backend import (
    SecretsGatewayAccessDenied,
    SecretsGatewayBackend,
    SecretsGatewayError,
)

__all__ = ["SecretsGatewayAccessDenied", "SecretsGatewayBackend", "SecretsGatewayError"]
__version__ = "0.1.0"
