#!/bin/sh
# Migrate, load the taxonomy (idempotent), optionally the demo data, then run the server.
set -e
alembic upgrade head
chainmatch seed-taxonomy
if [ "${CHAINMATCH_DEMO:-0}" != "0" ]; then
  chainmatch seed-demo --if-empty
fi
exec "$@"
