#!/bin/sh
# Creates Temporal's databases on its PostgreSQL and brings their schemas to the version
# of the admin-tools image (keep it the server's version). Safe to re-run: an existing
# database or base schema is reported and left alone, and update-schema applies only the
# versions that are missing. Needs SQL_PASSWORD; POSTGRES_SEEDS defaults to temporal-db.
set -eu
host="${POSTGRES_SEEDS:-temporal-db}"
user="${POSTGRES_USER:-temporal}"
schema=/etc/temporal/schema/postgresql/v12
tool() { temporal-sql-tool --plugin postgres12 --ep "$host" -u "$user" -p "${DB_PORT:-5432}" "$@"; }
for db in temporal:temporal temporal_visibility:visibility; do
	name="${db%%:*}" dir="${db#*:}"
	tool --db "$name" create || echo "database $name exists"
	tool --db "$name" setup-schema -v 0.0 || echo "database $name has a schema"
	tool --db "$name" update-schema -d "$schema/$dir/versioned"
done
