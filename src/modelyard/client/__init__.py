"""The Python client of a modelyard server: the fluent API and the lower-level ``Client``."""

from modelyard.client.buffer import MetricBuffer
from modelyard.client.client import Client
from modelyard.client.fluent import ActiveRun, start_run

__all__ = ["ActiveRun", "Client", "MetricBuffer", "start_run"]
