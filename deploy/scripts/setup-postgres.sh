#!/bin/sh
# Creates (if missing) and migrates Temporal's two PostgreSQL databases. Runs in temporalio/admin-tools
# before the server starts; safe to run on every `docker compose up`: setup-schema skips a database whose
# schema is past 0.0, update-schema applies only newer versions.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
DB_PORT=${DB_PORT:-5432}
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

echo "setup-postgres: waiting for ${POSTGRES_SEEDS}:${DB_PORT}"
attempt=0
until nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "setup-postgres: ${POSTGRES_SEEDS}:${DB_PORT} not reachable after $attempt attempts" >&2
    exit 1
  fi
  sleep 2
done

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

for db in temporal:temporal temporal_visibility:visibility; do
  name=${db%%:*}
  schema=${db##*:}
  # `create` fails when the database exists (a restart): that is fine, setup-schema below fails loudly
  # if the database is really missing.
  sql --db "$name" create || echo "setup-postgres: database $name exists (or could not be created), continuing"
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$SCHEMA_ROOT/$schema/versioned"
done
echo "setup-postgres: schema ready"
