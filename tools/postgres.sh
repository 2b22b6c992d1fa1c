#!/usr/bin/env bash
# Makes sure a local PostgreSQL 15 cluster runs on loopback and that the test role exists.
# The store's tests (tests/store/) create a fresh database per session as this role and drop it
# at the end. Idempotent and quiet when everything is already there.
set -euo pipefail

VERSION=15
CLUSTER=main
ROLE=${CORESNAP_PG_ROLE:-coresnap_test}
PASSWORD=${CORESNAP_PG_PASSWORD:-coresnap_test}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "postgres.sh: pg_ctlcluster missing (run tools/setup-system.sh as root)" >&2
  exit 1
fi
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$VERSION $CLUSTER"; then
  pg_createcluster "$VERSION" "$CLUSTER" -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1==v && $2==c {print $4}' | grep -qx online; then
  pg_ctlcluster "$VERSION" "$CLUSTER" start
fi
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi; }
for _ in $(seq 1 50); do
  as_postgres psql -qAtc 'select 1' >/dev/null 2>&1 && break
  sleep 0.1
done
exists=$(as_postgres psql -qAtc "select 1 from pg_roles where rolname = '$ROLE'")
if [ "$exists" != 1 ]; then
  as_postgres psql -qc "create role $ROLE login createdb password '$PASSWORD'" >/dev/null
fi
