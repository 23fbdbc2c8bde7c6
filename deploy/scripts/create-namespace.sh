#!/bin/sh
# Waits for the Temporal frontend, creates qasynth's namespace if missing and registers qasynth's search
# attributes (QasynthRunId, QasynthMode, QasynthStatus: Keyword) if missing. Idempotent. Runs in
# temporalio/admin-tools. (Adapted from temporalio/samples-server/compose/scripts/create-namespace.sh, whose
# give-up branch misspells the attempts variable; here it is MAX_ATTEMPTS throughout, and all waits are bounded.)
set -eu
NAMESPACE=${NAMESPACE:-default}
RETENTION=${RETENTION:-168h}
ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
MAX_ATTEMPTS=${MAX_ATTEMPTS:-60}
SEARCH_ATTRIBUTES="QasynthRunId QasynthMode QasynthStatus"

attempt=0
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then
    echo "create-namespace: Temporal at $ADDRESS not healthy after $MAX_ATTEMPTS attempts" >&2
    exit 1
  fi
  echo "create-namespace: waiting for Temporal at $ADDRESS ($attempt/$MAX_ATTEMPTS)"
  sleep 2
done

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "create-namespace: namespace $NAMESPACE exists"
else
  echo "create-namespace: creating namespace $NAMESPACE (retention $RETENTION)"
  temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
fi

# A new namespace can take a few seconds to reach every frontend: retry the listing until it answers.
attempt=0
until existing=$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" 2>/dev/null); do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge "$MAX_ATTEMPTS" ]; then
    echo "create-namespace: cannot list search attributes of $NAMESPACE after $MAX_ATTEMPTS attempts" >&2
    exit 1
  fi
  sleep 2
done
for sa in $SEARCH_ATTRIBUTES; do
  if printf '%s\n' "$existing" | grep -qw "$sa"; then
    echo "create-namespace: search attribute $sa exists"
  else
    echo "create-namespace: creating search attribute $sa (Keyword)"
    temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" --name "$sa" --type Keyword
  fi
done
echo "create-namespace: namespace $NAMESPACE ready"
