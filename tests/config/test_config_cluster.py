"""``[cluster]`` (SPEC §9): defaults, values, and the errors that name their key."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from botrt.config import ConfigError, default_config, load_config, parse_config, restart_needed

ENV = {"TZ": "UTC"}
POSTGRES = {"url": "postgresql://botrt:pw@db.example:5432/botrt"}


def test_defaults_off_with_host_name_and_pid(tmp_path: Path) -> None:
    cluster = default_config(tmp_path, environ=ENV).cluster
    assert cluster.enabled is False
    assert cluster.failover == 5
    assert cluster.worker_id == f"{socket.gethostname()}:{os.getpid()}"


def test_values_as_written(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text(
        '[storage]\nurl = "postgresql://botrt@localhost/botrt"\n'
        '[cluster]\nenabled = true\nworker_id = "worker-a"\nfailover = 2.5\n',
        encoding="utf-8",
    )
    cluster = load_config(tmp_path / "bot.toml", environ=ENV).cluster
    assert (cluster.enabled, cluster.worker_id, cluster.failover) == (True, "worker-a", 2.5)


def test_an_empty_worker_id_means_the_default(tmp_path: Path) -> None:
    config = parse_config(
        {"storage": POSTGRES, "cluster": {"enabled": True, "worker_id": ""}},
        base_dir=tmp_path,
        environ=ENV,
    )
    assert config.cluster.worker_id == f"{socket.gethostname()}:{os.getpid()}"


def test_enabled_with_sqlite_is_refused_naming_the_key_and_the_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"storage": {"url": "sqlite:///data/bot.db"}, "cluster": {"enabled": True}},
            base_dir=tmp_path,
            environ=ENV,
        )
    (issue,) = info.value.issues
    assert issue.path == "cluster.enabled"
    assert "PostgreSQL" in issue.message
    assert '"sqlite:///data/bot.db"' in issue.message


def test_enabled_with_the_default_storage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cluster\.enabled: a cluster needs PostgreSQL"):
        parse_config({"cluster": {"enabled": True}}, base_dir=tmp_path, environ=ENV)


def test_disabled_with_sqlite_is_fine(tmp_path: Path) -> None:
    config = parse_config({"cluster": {"enabled": False}}, base_dir=tmp_path, environ=ENV)
    assert config.cluster.enabled is False


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"enabled": "yes"}, 'cluster.enabled: expected a boolean, got "yes"'),
        ({"failover": 0}, "cluster.failover: expected a positive number, got 0"),
        ({"failover": 0.5}, "cluster.failover: expected at least 1 second, got 0.5"),
        ({"failover": "5s"}, "cluster.failover: expected a positive number"),
        ({"worker_id": 7}, "cluster.worker_id: expected a string, got 7"),
        ({"worker_id": "a\nb"}, "cluster.worker_id: expected at most 200 printable"),
        ({"worker_id": "w" * 201}, "cluster.worker_id: expected at most 200"),
        ({"failovr": 5}, 'cluster.failovr: unknown key (did you mean "failover"?)'),
    ],
)
def test_errors_name_the_key(tmp_path: Path, section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"storage": POSTGRES, "cluster": section}, base_dir=tmp_path, environ=ENV)
    assert message in str(info.value)


def test_a_cluster_change_needs_a_restart(tmp_path: Path) -> None:
    old = parse_config({"storage": POSTGRES}, base_dir=tmp_path, environ=ENV)
    new = parse_config(
        {"storage": POSTGRES, "cluster": {"enabled": True}}, base_dir=tmp_path, environ=ENV
    )
    assert restart_needed(old, new) == ["cluster"]
