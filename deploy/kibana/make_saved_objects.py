"""Kibana saved objects for netsword: a data view per index and the overview dashboard.

    python deploy/kibana/make_saved_objects.py [--prefix netsword] > deploy/kibana/netsword.ndjson

The shipped ``netsword.ndjson`` is this script's output for the default prefix (a test keeps
them equal); the compose ``setup`` service imports it through Kibana's saved objects API.
Visualisations are Kibana's aggregation-based ones (stable JSON, import into any 8.x):
findings per category over time, top shops, findings by severity.
"""

from __future__ import annotations

import argparse
import json
import sys

#: index kind -> (time field, title shown in Kibana); users are left out on purpose (password hashes)
DATA_VIEWS: dict[str, tuple[str, str]] = {
    "findings": ("first_seen", "违法线索 findings"),
    "listings": ("fetched_at", "商品 listings"),
    "shops": ("fetched_at", "店铺 shops"),
    "versions": ("fetched_at", "价格历史 listing versions"),
    "snapshots": ("fetched_at", "证据快照 snapshots"),
    "sweeps": ("started_at", "巡查 sweeps"),
    "leads": ("updated_at", "案件线索 leads"),
    "pages": ("fetched_at", "页面状态 page states"),
    "triage": ("at", "研判记录 triage trail"),
    "runs": ("started_at", "巡查运行 sweep runs"),
}
DASHBOARD_ID = "netsword-overview"
KIBANA_VERSION = "8.15.0"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def data_view(prefix: str, kind: str) -> dict:
    time_field, title = DATA_VIEWS[kind]
    pattern = f"{prefix}-{kind}"
    return {"id": pattern, "type": "index-pattern", "coreMigrationVersion": "8.8.0", "references": [],
            "attributes": {"title": pattern, "name": f"{title} ({pattern})", "timeFieldName": time_field,
                           "fields": "[]", "fieldAttrs": "{}", "fieldFormatMap": "{}", "runtimeFieldMap": "{}",
                           "sourceFilters": "[]", "typeMeta": "{}"}}


def _search_source() -> str:
    return _dumps({"query": {"query": "", "language": "kuery"}, "filter": [],
                   "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index"})


def visualization(prefix: str, vid: str, title: str, vis_type: str, params: dict, aggs: list[dict]) -> dict:
    return {"id": vid, "type": "visualization", "coreMigrationVersion": "8.8.0",
            "references": [{"id": f"{prefix}-findings", "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
                            "type": "index-pattern"}],
            "attributes": {"title": title, "description": "", "uiStateJSON": "{}", "version": 1,
                           "visState": _dumps({"title": title, "type": vis_type, "params": params, "aggs": aggs}),
                           "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source()}}}


def _count() -> dict:
    return {"id": "1", "enabled": True, "type": "count", "params": {}, "schema": "metric"}


def _terms(agg_id: str, field: str, size: int, schema: str, label: str) -> dict:
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema,
            "params": {"field": field, "size": size, "order": "desc", "orderBy": "1", "otherBucket": False,
                       "missingBucket": False, "customLabel": label}}


def visualizations(prefix: str) -> list[dict]:
    over_time = {
        "type": "histogram", "addLegend": True, "legendPosition": "right", "addTooltip": True, "times": [],
        "grid": {"categoryLines": False},
        "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "bottom", "show": True,
                          "scale": {"type": "linear"}, "labels": {"show": True, "filter": True, "truncate": 100},
                          "title": {}}],
        "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": "left", "show": True,
                       "scale": {"type": "linear", "mode": "normal"},
                       "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                       "title": {"text": "违法线索数 findings"}}],
        "seriesParams": [{"show": True, "type": "histogram", "mode": "stacked", "data": {"label": "Count", "id": "1"},
                          "valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": True, "showCircles": True}],
    }
    by_day = {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
              "params": {"field": "first_seen", "useNormalizedEsInterval": True, "interval": "d",
                         "drop_partials": False, "min_doc_count": 1, "extended_bounds": {},
                         "customLabel": "首次发现 first seen"}}
    table = {"perPage": 20, "showPartialRows": False, "showMetricsAtAllLevels": False, "showTotal": True,
             "totalFunc": "sum", "percentageCol": ""}
    pie = {"type": "pie", "addTooltip": True, "legendDisplay": "show", "legendPosition": "right", "isDonut": True,
           "labels": {"show": True, "values": True, "last_level": True, "truncate": 100}}
    return [
        visualization(prefix, f"{prefix}-findings-per-category", "违法线索按类别随时间 Findings per category over time",
                      "histogram", over_time,
                      [_count(), by_day, _terms("3", "category", 14, "group", "类别 category")]),
        visualization(prefix, f"{prefix}-top-shops", "违法线索最多的店铺 Top shops", "table", table,
                      [_count(), _terms("2", "site", 20, "bucket", "平台 site"),
                       _terms("3", "shop_id", 20, "bucket", "店铺 shop"),
                       _terms("4", "shop_name.keyword", 1, "bucket", "店铺名称 shop name")]),
        visualization(prefix, f"{prefix}-severity", "严重程度 Findings by severity", "pie", pie,
                      [_count(), _terms("2", "severity", 10, "segment", "严重程度 severity")]),
    ]


def dashboard(vis: list[dict], prefix: str = "netsword") -> dict:
    grid = [(0, 0, 48, 15), (0, 15, 24, 15), (24, 15, 24, 15)]
    panels, refs = [], []
    for n, (v, (x, y, w, h)) in enumerate(zip(vis, grid, strict=True), 1):
        panels.append({"version": KIBANA_VERSION, "type": "visualization", "panelIndex": str(n),
                       "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(n)},
                       "embeddableConfig": {"enhancements": {}}, "panelRefName": f"panel_{n}"})
        refs.append({"id": v["id"], "name": f"{n}:panel_{n}", "type": "visualization"})
    did = DASHBOARD_ID if prefix == "netsword" else f"{prefix}-{DASHBOARD_ID.removeprefix('netsword-')}"
    title = "网剑行动 netsword 总览 overview" + ("" if prefix == "netsword" else f" ({prefix})")
    return {"id": did, "type": "dashboard", "coreMigrationVersion": "8.8.0", "references": refs,
            "attributes": {"title": title, "description":
                           "违法线索按类别随时间、店铺排行、严重程度 / findings per category over time, top shops, "
                           "severity", "version": 1, "timeRestore": True, "timeFrom": "now-90d", "timeTo": "now",
                           "refreshInterval": {"pause": True, "value": 60000},
                           "optionsJSON": _dumps({"useMargins": True, "syncColors": False, "syncCursor": True,
                                                  "syncTooltips": False, "hidePanelTitles": False}),
                           "panelsJSON": _dumps(panels),
                           "kibanaSavedObjectMeta": {"searchSourceJSON": _dumps({"query": {"query": "",
                                                                                           "language": "kuery"},
                                                                                 "filter": []})}}}


def saved_objects(prefix: str = "netsword") -> list[dict]:
    vis = visualizations(prefix)
    return [*(data_view(prefix, k) for k in DATA_VIEWS), *vis, dashboard(vis, prefix)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", default="netsword", help="index prefix (NETSWORD_INDEX_PREFIX)")
    args = ap.parse_args(argv)
    for obj in saved_objects(args.prefix):
        sys.stdout.write(_dumps(obj) + "\n")


if __name__ == "__main__":
    main()
