#!/usr/bin/env bash
# Make sure a PostgreSQL cluster with PostGIS is running on 127.0.0.1:5432 (trust auth), as the
# test suite needs a real PostGIS. Installs Debian's postgresql-15-postgis-3 when it is missing and
# starts the cluster when it is down. Idempotent; safe to run on every `make test`.
set -euo pipefail

pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_version" ]; then
  echo "ensure_postgis: no PostgreSQL cluster configured on this machine" >&2
  exit 1
fi

if [ ! -f "/usr/share/postgresql/$pg_version/extension/postgis.control" ]; then
  echo "ensure_postgis: installing postgresql-$pg_version-postgis-3"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "postgresql-$pg_version-postgis-3" >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "ensure_postgis: starting PostgreSQL $pg_version"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qtc \
  "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" | grep -q 1 || {
  echo "ensure_postgis: PostGIS is not available to the server" >&2; exit 1; }
echo "ensure_postgis: PostGIS ready on 127.0.0.1:5432"
