"""Fixtures for the storage tests: every test runs on SQLite and on a real PostgreSQL.

`storage_url`, `postgres_url` and `postgres_server` come from the pytest plugin
``botrt.testing._pytest_storage``, which the root ``conftest.py`` registers.
"""

from __future__ import annotations
