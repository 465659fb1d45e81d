"""Shared fixtures for all three tiers.

- unit tests need nothing running;
- Spark tests share one local session for the whole run (`spark` fixture);
- integration tests use the real Elasticsearch and Tika that `make test` starts.
"""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.config import Config, load_config


@pytest.fixture(scope="session")
def base_config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def test_config(base_config: Config, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The real services, but case staging in a temporary folder (the corpus is read-only)."""
    cases = tmp_path_factory.mktemp("cases")
    return base_config.replace(paths=dataclasses.replace(base_config.paths, cases_dir=cases))


@pytest.fixture(scope="session")
def spark(base_config: Config):
    from pipeline.spark import build_session

    spark_config = dataclasses.replace(base_config.spark, master="local[2]",
                                       shuffle_partitions=4, app_name="trawl-tests")
    session = build_session(spark_config)
    yield session
    session.stop()


@pytest.fixture
def context(base_config: Config):
    """A ParseContext whose Tika is unreachable (nothing listens on port 9), as when the server
    is down: text formats still take the fast path, everything else becomes an exception."""
    from pipeline.extract import TextExtractor
    from pipeline.mail import ParseContext

    unreachable = dataclasses.replace(base_config.tika, url="http://127.0.0.1:9", retries=0,
                                      timeout=2)
    return ParseContext(extractor=TextExtractor(unreachable), ingest=base_config.ingest)
