"""Pulumi program pieces that provision modelyard's PostgreSQL backend."""

from modelyard_infra.component import ModelyardDatabase
from modelyard_infra.settings import Secrets, Settings, load_settings

__all__ = ["ModelyardDatabase", "Secrets", "Settings", "load_settings"]
