#!/bin/sh
# One-shot `setup` service (runs in the netsword image after Elasticsearch is healthy):
#  1. sets the password of Kibana's `kibana_system` user;
#  2. creates the least-privilege roles and users: `netsword` (role netsword_app: its own indices
#     <prefix>-* and their templates, nothing else), the app's login; `netsword_kibana` (role
#     netsword_kibana: <prefix>-* read-only, Kibana's dashboards, visualizations and data views),
#     the analysts' Kibana login and the importer of the saved objects. `elastic` is used for this
#     step only;
#  3. creates netsword's index templates, versioned indices and aliases (`netsword index init`, as
#     `netsword`) and writes the current leads (`netsword index leads`);
#  4. waits for Kibana and imports the saved objects for NETSWORD_INDEX_PREFIX: a data view per
#     index and the dashboard (deploy/kibana/make_saved_objects.py --prefix).
# Safe to run again (`docker compose run --rm setup`): every step is idempotent.
set -eu
ES_URL="${ES_URL:-http://elasticsearch:9200}"
KIBANA_URL="${KIBANA_URL:-http://kibana:5601}"
ELASTIC_PASSWORD="$(cat /secrets/elastic_password)"
KIBANA_PASSWORD="$(cat /secrets/kibana_password)"
APP_PASSWORD="$(cat /secrets/netsword_password)"
ANALYST_PASSWORD="$(cat /secrets/netsword_kibana_password)"
PREFIX="${NETSWORD_INDEX_PREFIX:-netsword}"
SAVED_OBJECTS="${SAVED_OBJECTS:-/tmp/netsword-saved-objects.ndjson}"
es_put() {  # PUT $1 with the JSON body $2, as the superuser
  curl -fsS -u "elastic:$ELASTIC_PASSWORD" -H 'Content-Type: application/json' -X PUT "$ES_URL/$1" -d "$2" >/dev/null
}

echo "waiting for Elasticsearch at $ES_URL"
until curl -fsS -u "elastic:$ELASTIC_PASSWORD" "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=30s" >/dev/null; do
  sleep 5
done

echo "setting the kibana_system password"
curl -fsS -u "elastic:$ELASTIC_PASSWORD" -H 'Content-Type: application/json' \
  -X POST "$ES_URL/_security/user/kibana_system/_password" -d "{\"password\":\"$KIBANA_PASSWORD\"}" >/dev/null

echo "roles netsword_app, netsword_kibana and users netsword, netsword_kibana (indices $PREFIX-*)"
es_put _security/role/netsword_app "{
  \"cluster\": [\"monitor\", \"manage_index_templates\"],
  \"indices\": [{\"names\": [\"$PREFIX-*\"],
                \"privileges\": [\"create_index\", \"delete_index\", \"manage\", \"read\", \"write\",
                               \"view_index_metadata\"]}]}"
es_put _security/role/netsword_kibana "{
  \"indices\": [{\"names\": [\"$PREFIX-*\"], \"privileges\": [\"read\", \"view_index_metadata\"]}],
  \"applications\": [{\"application\": \"kibana-.kibana\", \"resources\": [\"space:default\"],
                     \"privileges\": [\"feature_dashboard.all\", \"feature_visualize.all\", \"feature_discover.all\",
                                    \"feature_indexPatterns.all\", \"feature_savedObjectsManagement.all\"]}]}"
es_put _security/user/netsword "{\"password\": \"$APP_PASSWORD\", \"roles\": [\"netsword_app\"],
  \"full_name\": \"netsword (app)\"}"
es_put _security/user/netsword_kibana "{\"password\": \"$ANALYST_PASSWORD\", \"roles\": [\"netsword_kibana\"],
  \"full_name\": \"netsword analysts (Kibana)\"}"

echo "index templates, indices and aliases"
netsword index init
netsword index leads  # lead documents for the Kibana data view (run again after sweeps or triage)
netsword index status

echo "waiting for Kibana at $KIBANA_URL"
until curl -fsS -u "netsword_kibana:$ANALYST_PASSWORD" "$KIBANA_URL/api/status" 2>/dev/null | grep -q '"level":"available"'; do
  sleep 5
done

echo "Kibana saved objects for the prefix $PREFIX"
python /app/deploy/kibana/make_saved_objects.py --prefix "$PREFIX" > "$SAVED_OBJECTS"
curl -fsS -u "netsword_kibana:$ANALYST_PASSWORD" -H 'kbn-xsrf: netsword-setup' \
  -X POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" --form "file=@$SAVED_OBJECTS" \
  | python -c 'import json, sys; r = json.load(sys.stdin); print("imported", r.get("successCount"), "objects");
sys.exit(0 if r.get("success") else "import failed: " + json.dumps(r.get("errors"), ensure_ascii=False))'
echo "setup done: Kibana at http://localhost:${KIBANA_PORT:-5601} (user netsword_kibana), console at http://localhost:${WEB_PORT:-8000}"
