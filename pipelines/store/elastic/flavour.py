"""Elasticsearch or OpenSearch: the one seam between the engine and the two clients.

The engine is written against the official ``elasticsearch`` 8 client (keyword arguments,
responses with ``.body``). For ``opensearch://`` stores it gets :class:`OpenSearchCompat`
instead: the official ``opensearch-py`` client behind the same calls, translating the few
differences:

* request bodies: ``opensearch-py`` takes ``body=``; the keyword arguments that are body fields
  (``query``, ``sort``, ``aggs``, ``source``, ...) are gathered into it;
* point-in-time paging: ``open_point_in_time`` -> ``create_pit`` (``pit_id``),
  ``close_point_in_time`` -> ``delete_pit``;
* ``options(ignore_status=...)`` -> the ``ignore`` parameter;
* errors: ``opensearchpy`` exceptions (``status_code``) instead of ``elastic_transport`` ones
  (``meta.status``): :func:`unavailable` and :func:`engine_error` know both;
* bulk helpers: :func:`streaming_bulk` and :func:`bulk` call the helpers of the client in use.

Only the calls the store makes are translated; anything else raises ``AttributeError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

FLAVOURS = ("elasticsearch", "opensearch")
#: how each flavour is named in messages people read
DISPLAY = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}

#: keyword arguments that are URL parameters, not body fields
_PARAMS = frozenset({"index", "id", "name", "ignore_unavailable", "allow_no_indices", "wait_for_completion",
                     "refresh", "ignore", "conflicts"})
#: elasticsearch-py keyword -> request body field
_RENAME = {"from_": "from", "source": "_source"}


class Response(dict):
    """A JSON response that also answers ``.body`` like elasticsearch-py's ``ObjectApiResponse``."""

    @property
    def body(self) -> dict[str, Any]:
        return self


def _split(kwargs: dict[str, Any], rename: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(URL parameters, request body) of elasticsearch-py style keyword arguments (``rename``: ``source`` means
    ``_source``, as in searches; not so for ``reindex``, whose ``source`` is a body field of its own)."""
    params: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for key, value in kwargs.items():
        if value is None:
            continue
        if key in _PARAMS:
            params[key] = value
        elif key == "source_excludes":
            src = body.get("_source")
            body["_source"] = {"excludes": value} if src in (None, True) else src
        else:
            body[_RENAME.get(key, key) if rename else key] = value
    return params, body


class _Namespace:
    """``indices`` / ``cluster`` of :class:`OpenSearchCompat`: body-taking calls with elasticsearch-py keywords."""

    def __init__(self, owner: OpenSearchCompat, ns: Any) -> None:
        self._owner, self._ns = owner, ns

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._ns, name)

        def call(**kwargs: Any) -> Any:
            params, body = _split(kwargs, rename=False)
            if body:
                params["body"] = body
            return self._owner._wrap(fn, params)

        return call


class OpenSearchCompat:
    """An ``opensearchpy.OpenSearch`` answering the elasticsearch-py 8 calls the store makes."""

    def __init__(self, client: Any, ignore: tuple[int, ...] = ()) -> None:
        self.client = client
        self._ignore = ignore
        self.indices = _Namespace(self, client.indices)
        self.cluster = _Namespace(self, client.cluster)

    def _wrap(self, fn: Any, params: dict[str, Any]) -> Any:
        if self._ignore:
            params["ignore"] = list(self._ignore)
        res = fn(**params)
        return Response(res) if isinstance(res, dict) else res

    def options(self, *, ignore_status: int | Iterable[int] = ()) -> OpenSearchCompat:
        codes = (ignore_status,) if isinstance(ignore_status, int) else tuple(ignore_status)
        return OpenSearchCompat(self.client, codes)

    def _body_call(self, name: str, rename: bool = True, **kwargs: Any) -> Any:
        params, body = _split(kwargs, rename)
        if body:
            params["body"] = body
        return self._wrap(getattr(self.client, name), params)

    def search(self, **kwargs: Any) -> Any:
        return self._body_call("search", **kwargs)

    def count(self, **kwargs: Any) -> Any:
        return self._body_call("count", **kwargs)

    def mget(self, **kwargs: Any) -> Any:
        return self._body_call("mget", **kwargs)

    def reindex(self, **kwargs: Any) -> Any:
        return self._body_call("reindex", rename=False, **kwargs)

    def delete_by_query(self, **kwargs: Any) -> Any:
        return self._body_call("delete_by_query", **kwargs)

    def index(self, *, document: dict[str, Any], **kwargs: Any) -> Any:
        return self._wrap(self.client.index, {**kwargs, "body": document})

    def get(self, **kwargs: Any) -> Any:
        return self._wrap(self.client.get, dict(kwargs))

    def info(self) -> Any:
        return Response(self.client.info())

    def open_point_in_time(self, *, index: str, keep_alive: str) -> Any:
        res = self._wrap(self.client.create_pit, {"index": index, "params": {"keep_alive": keep_alive}})
        return Response({"id": res["pit_id"]})

    def close_point_in_time(self, *, id: str) -> Any:
        return self._wrap(self.client.delete_pit, {"body": {"pit_id": [id]}})

    def close(self) -> None:
        self.client.close()


def make_client(flavour: str, hosts: list[str], *, username: str | None, password: str | None, timeout: float,
                verify_certs: bool, ca_certs: str | None) -> Any:
    """The client of ``flavour`` for ``hosts`` (``http[s]://host:port``)."""
    auth = (username, password) if password else None
    if flavour == "opensearch":
        from opensearchpy import OpenSearch

        client = OpenSearch(hosts, http_auth=auth, timeout=timeout, max_retries=1, retry_on_timeout=True,
                            verify_certs=verify_certs, ca_certs=ca_certs, ssl_show_warn=False)
        return OpenSearchCompat(client)
    from elasticsearch import Elasticsearch

    return Elasticsearch(hosts, basic_auth=auth, request_timeout=timeout, max_retries=1, retry_on_timeout=True,
                         verify_certs=verify_certs, ca_certs=ca_certs)


def streaming_bulk(es: Any, actions: Iterable[dict[str, Any]], **kwargs: Any) -> Iterator[tuple[bool, Any]]:
    if isinstance(es, OpenSearchCompat):
        from opensearchpy import helpers as os_helpers

        return os_helpers.streaming_bulk(es.client, actions, **kwargs)
    from elasticsearch import helpers

    return helpers.streaming_bulk(es, actions, **kwargs)


def bulk(es: Any, actions: Iterable[dict[str, Any]], **kwargs: Any) -> Any:
    if isinstance(es, OpenSearchCompat):
        from opensearchpy import helpers as os_helpers

        return os_helpers.bulk(es.client, actions, **kwargs)
    from elasticsearch import helpers

    return helpers.bulk(es, actions, **kwargs)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a client error, if it has one."""
    status = getattr(getattr(exc, "meta", None), "status", None)
    if isinstance(status, int):
        return status
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def unavailable(exc: BaseException) -> bool:
    """The server cannot be reached (or answers 502/503/504): wait and try again."""
    from elastic_transport import ConnectionError as TransportConnectionError
    from elastic_transport import ConnectionTimeout
    from elasticsearch import ApiError

    if isinstance(exc, TransportConnectionError | ConnectionTimeout):
        return True
    if isinstance(exc, ApiError):
        return exc.meta.status in (502, 503, 504)
    try:
        from opensearchpy import exceptions as ox
    except ModuleNotFoundError:
        return False
    if isinstance(exc, ox.ConnectionError | ox.ConnectionTimeout):
        return True
    return isinstance(exc, ox.TransportError) and status_of(exc) in (502, 503, 504)


def engine_error(exc: BaseException) -> bool:
    """An error the engine or its client raised (unreachable, refused, failed), not one of ours."""
    from elastic_transport import ApiError as TransportApiError
    from elastic_transport import TransportError

    if unavailable(exc) or isinstance(exc, TransportApiError | TransportError):
        return True
    try:
        from opensearchpy import exceptions as ox
    except ModuleNotFoundError:
        return False
    return isinstance(exc, ox.TransportError | ox.ImproperlyConfigured | ox.SerializationError)
