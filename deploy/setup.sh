#!/bin/sh
# One-shot `setup` service (runs in the netsword image after Elasticsearch is healthy):
#  1. sets the password of Kibana's `kibana_system` user;
#  2. creates netsword's index templates, versioned indices and aliases (`netsword index init`)
#     and writes the current leads (`netsword index leads`);
#  3. waits for Kibana and imports the saved objects: a data view per index and the dashboard.
# Safe to run again (`docker compose run --rm setup`): every step is idempotent.
set -eu
ES_URL="${ES_URL:-http://elasticsearch:9200}"
KIBANA_URL="${KIBANA_URL:-http://kibana:5601}"
ELASTIC_PASSWORD="$(cat /secrets/elastic_password)"
KIBANA_PASSWORD="$(cat /secrets/kibana_password)"
SAVED_OBJECTS="${SAVED_OBJECTS:-/app/deploy/kibana/netsword.ndjson}"

echo "waiting for Elasticsearch at $ES_URL"
until curl -fsS -u "elastic:$ELASTIC_PASSWORD" "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=30s" >/dev/null; do
  sleep 5
done

echo "setting the kibana_system password"
curl -fsS -u "elastic:$ELASTIC_PASSWORD" -H 'Content-Type: application/json' \
  -X POST "$ES_URL/_security/user/kibana_system/_password" -d "{\"password\":\"$KIBANA_PASSWORD\"}" >/dev/null

echo "index templates, indices and aliases"
netsword index init
netsword index leads  # lead documents for the Kibana data view (run again after sweeps or triage)
netsword index status

echo "waiting for Kibana at $KIBANA_URL"
until curl -fsS -u "elastic:$ELASTIC_PASSWORD" "$KIBANA_URL/api/status" 2>/dev/null | grep -q '"level":"available"'; do
  sleep 5
done

echo "importing Kibana saved objects from $SAVED_OBJECTS"
curl -fsS -u "elastic:$ELASTIC_PASSWORD" -H 'kbn-xsrf: netsword-setup' \
  -X POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" --form "file=@$SAVED_OBJECTS" \
  | python -c 'import json, sys; r = json.load(sys.stdin); print("imported", r.get("successCount"), "objects");
sys.exit(0 if r.get("success") else "import failed: " + json.dumps(r.get("errors"), ensure_ascii=False))'
echo "setup done: Kibana at http://localhost:${KIBANA_PORT:-5601} (user elastic), console at http://localhost:${WEB_PORT:-8000}"
