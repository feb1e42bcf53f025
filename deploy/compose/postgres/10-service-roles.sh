#!/usr/bin/env bash
# Runs once, when the postgres container initialises an empty data volume (it is mounted in
# /docker-entrypoint-initdb.d): one login role per service, owning the schema of that service,
# so a service can neither read nor change another's tables.
#
# CREATE on the database is granted because `<service> migrate` runs
# `CREATE SCHEMA IF NOT EXISTS`, which PostgreSQL checks against that privilege even when the
# schema exists. Other schemas stay closed: they are owned by their own roles.
set -euo pipefail

create_service_role() {  # role (= schema name) password
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="$1" -v password="$2" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
GRANT CONNECT, CREATE ON DATABASE :"db" TO :"role";
CREATE SCHEMA :"role" AUTHORIZATION :"role";
SQL
}

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$POSTGRES_DB" <<'SQL'
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL

create_service_role ticket_service "$TICKET_DB_PASSWORD"
create_service_role ai_categorization "$AI_DB_PASSWORD"
create_service_role routing "$ROUTING_DB_PASSWORD"
create_service_role analytics "$ANALYTICS_DB_PASSWORD"
create_service_role integration "$INTEGRATION_DB_PASSWORD"
