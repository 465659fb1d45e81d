"""One way to build an Elasticsearch client, for the embedded node or an existing cluster."""

from __future__ import annotations

from typing import Any

from pipeline.config import ElasticsearchConfig
from pipeline.errors import ServiceError


def make_client(es: ElasticsearchConfig) -> Any:
    """A client for `es`."""
    from elasticsearch import Elasticsearch

    options: dict[str, Any] = {"request_timeout": es.request_timeout, "max_retries": 3,
                               "retry_on_timeout": True}
    if es.api_key:
        options["api_key"] = es.api_key
    elif es.username:
        options["basic_auth"] = (es.username, es.password or "")
    if es.url.startswith("https"):
        options["verify_certs"] = es.verify_certs
        if es.ca_certs:
            options["ca_certs"] = es.ca_certs
    return Elasticsearch(es.url, **options)


def client_major_version() -> int:
    import elasticsearch

    return int(elasticsearch.__versionstr__.split(".")[0])


def _server_version(client: Any) -> str:
    from elasticsearch import ApiError

    try:
        return client.info()["version"]["number"]
    except ApiError as exc:
        # The integ-test-zip node answers GET / with 405; ask the node itself instead.
        if exc.meta.status != 405:
            raise
    nodes = client.nodes.info(node_id="_local", metric="version")["nodes"]
    return next(iter(nodes.values()))["version"]


def connect(es: ElasticsearchConfig) -> Any:
    """A client that has reached the server, whose major version matches the client's."""
    from elasticsearch import ApiError, TransportError

    client = make_client(es)
    try:
        server_version = _server_version(client)
    except TransportError as exc:
        raise ServiceError(
            f"Elasticsearch is not reachable at {es.url} ({type(exc).__name__}). Start the "
            f"embedded node with `trawl services up`, or set elasticsearch.url in your config."
        ) from exc
    except ApiError as exc:
        raise ServiceError(f"Elasticsearch at {es.url} refused the connection: {exc}") from exc
    if int(server_version.split(".")[0]) != client_major_version():
        import elasticsearch

        raise ServiceError(
            f"Elasticsearch server {server_version} at {es.url} needs a client of the same major "
            f"version; this Trawl has elasticsearch-py {elasticsearch.__versionstr__}.")
    return client
