"""The twin's HTTP/WebSocket API: :func:`create_app` around a store; :func:`run_api_in_thread`."""

from twin.api.app import create_app
from twin.api.deps import ApiSettings
from twin.api.server import ApiServerHandle, run_api_in_thread

__all__ = ["ApiServerHandle", "ApiSettings", "create_app", "run_api_in_thread"]
