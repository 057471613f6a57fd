#!/bin/sh
# One-shot `secrets` service: make sure every password exists.
#  * a value given in .env (ELASTIC_PASSWORD, KIBANA_PASSWORD, KIBANA_ENCRYPTION_KEY) is used as is;
#  * a missing one is generated and appended to .env (so you can log into Kibana as `netsword_kibana`);
#  * each value is written to the shared `secrets` volume, where Elasticsearch
#    (ELASTIC_PASSWORD_FILE), Kibana and netsword (NETSWORD_ES_PASSWORD_FILE) read it: readable by
#    uid 1000 only (the user of the Elasticsearch, Kibana and netsword images), never by others.
set -eu
ENV_FILE="${ENV_FILE:-/project/.env}"
SECRETS="${SECRETS_DIR:-/secrets}"
mkdir -p "$SECRETS"
[ -f "$ENV_FILE" ] || { cp "$(dirname "$ENV_FILE")/.env.example" "$ENV_FILE" 2>/dev/null || : > "$ENV_FILE"; }

value() {  # the value of $1 in .env (last one wins), empty if unset
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | tr -d '\r'
}

SECRET_UID="${SECRET_UID:-1000}"
chmod 0711 "$SECRETS"
for name in ELASTIC_PASSWORD KIBANA_PASSWORD KIBANA_ENCRYPTION_KEY NETSWORD_ES_PASSWORD NETSWORD_KIBANA_PASSWORD; do
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
  file="$SECRETS/$(echo "$name" | tr 'A-Z' 'a-z' | sed 's/^netsword_es_password$/netsword_password/')"
  umask 077
  printf '%s' "$v" > "$file"
  chmod 0400 "$file"
  # Elasticsearch, Kibana and netsword all run as uid 1000 in their images; as root, hand the file to it
  if [ "$(id -u)" = "0" ]; then chown "$SECRET_UID:0" "$file"; fi
done
echo "secrets ready in the secrets volume"
