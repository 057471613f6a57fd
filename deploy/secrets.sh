#!/bin/sh
# One-shot `secrets` service: make sure every password exists.
#  * a value given in .env (ELASTIC_PASSWORD, KIBANA_PASSWORD, KIBANA_ENCRYPTION_KEY) is used as is;
#  * a missing one is generated and appended to .env (so you can log into Kibana as `elastic`);
#  * each value is written to the shared `secrets` volume, where Elasticsearch
#    (ELASTIC_PASSWORD_FILE), Kibana and netsword (NETSWORD_ES_PASSWORD_FILE) read it.
set -eu
ENV_FILE="${ENV_FILE:-/project/.env}"
SECRETS="${SECRETS_DIR:-/secrets}"
mkdir -p "$SECRETS"
[ -f "$ENV_FILE" ] || { cp "$(dirname "$ENV_FILE")/.env.example" "$ENV_FILE" 2>/dev/null || : > "$ENV_FILE"; }

value() {  # the value of $1 in .env (last one wins), empty if unset
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | tr -d '\r'
}

for name in ELASTIC_PASSWORD KIBANA_PASSWORD KIBANA_ENCRYPTION_KEY; do
  v="$(value "$name")"
  if [ -z "$v" ]; then
    v="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    # replace an empty `NAME=` line, or append one
    if grep -q "^$name=$" "$ENV_FILE"; then
      sed -i "s/^$name=$/$name=$v/" "$ENV_FILE"
    else
      printf '%s=%s\n' "$name" "$v" >> "$ENV_FILE"
    fi
    echo "generated $name (saved in .env)"
  fi
  file="$SECRETS/$(echo "$name" | tr 'A-Z' 'a-z')"
  umask 077
  printf '%s' "$v" > "$file"
  chmod 0444 "$file"  # Elasticsearch and Kibana run as other users in their images
done
echo "secrets ready in the secrets volume"
