import os

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError


def test_defaults_resolve_relative_paths_against_the_project_root(base_config):
    assert base_config.paths.state_dir == base_config.paths.root / "var"
    assert base_config.paths.cases_dir == base_config.paths.root / "var" / "cases"
    assert base_config.elasticsearch.node.host == "127.0.0.1"
    assert base_config.spark.master == "local[*]"


def test_overlay_changes_only_the_keys_it_names(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("elasticsearch:\n  url: https://es.example:9200\n  api_key: abc\n"
                       "paths:\n  cases_dir: /data/cases\n")
    config = load_config(overlay)
    assert config.elasticsearch.url == "https://es.example:9200"
    assert config.elasticsearch.api_key == "abc"
    assert str(config.paths.cases_dir) == "/data/cases"
    assert config.elasticsearch.bulk.chunk_size == load_config().elasticsearch.bulk.chunk_size


def test_unknown_overlay_key_is_refused_by_name(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("elasticsearch:\n  urll: http://typo\n")
    with pytest.raises(ConfigError, match="elasticsearch.urll"):
        load_config(overlay)


def test_config_is_frozen(base_config):
    with pytest.raises(Exception):
        base_config.spark.master = "yarn"


def test_a_spark_java_home_without_java_is_refused_by_name(tmp_path, monkeypatch):
    from pipeline.spark import _use_java

    monkeypatch.setenv("JAVA_HOME", "/before")
    with pytest.raises(ConfigError, match="spark.java_home"):
        _use_java(str(tmp_path))
    assert os.environ["JAVA_HOME"] == "/before"
