#!/bin/sh
# One-shot job of docker-compose.yml, run with temporal-sql-tool of temporalio/admin-tools before the server
# starts: creates the `temporal` and `temporal_visibility` databases in PostgreSQL and brings their schemas to
# the versions the admin-tools image ships, with the commands Temporal's own compose examples run (a `create` of
# an existing database fails and is let pass). Never run on the machines this project is built on: see README.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
port=${DB_PORT:-5432}
schema_dir=/etc/temporal/schema/postgresql/v12

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$port" -u "$POSTGRES_USER" "$@"
}

for db in temporal temporal_visibility; do
  dir=$schema_dir/temporal/versioned
  [ "$db" = temporal ] || dir=$schema_dir/visibility/versioned
  sql --db "$db" create || echo "database $db is there"
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$dir"
done
