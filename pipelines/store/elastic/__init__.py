"""The Elasticsearch (or OpenSearch) engine: ``open_store("elasticsearch://host:9200")``.

Modules: ``engine`` (ElasticStore, config), ``admin`` (templates, versioned indices behind
aliases, migrations), ``docs`` (documents and how writes change them), ``apply`` (bulk writes),
``reads`` (reads and searches), ``query`` (SearchQuery -> query DSL), ``spool`` (writes kept
while the cluster is down), ``leads`` (lead documents for Kibana).
"""

from .engine import ElasticConfig, ElasticStore, StoreUnavailable, open_elastic

__all__ = ["ElasticConfig", "ElasticStore", "StoreUnavailable", "open_elastic"]
