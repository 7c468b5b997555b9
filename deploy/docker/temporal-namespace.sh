#!/bin/sh
# One-shot job of docker-compose.yml, run with the Temporal CLI of temporalio/admin-tools once the server is
# healthy: creates the namespace (retention 30 days, so `gameday history --since 30d` and the janitor still find
# a month of nightly runs) and registers gameday's search attributes (workflows/definitions.ts). Idempotent:
# a namespace or attribute that exists is left as it is. POSIX sh (the admin-tools image has no bash).
set -eu
address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
retention=${GAMEDAY_NAMESPACE_RETENTION:-30d}

# Tries a command up to 60 times, 2 s apart: the server answers before its namespace cache knows a new namespace.
retry() {
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge 60 ]; then
      echo "gave up after $attempt tries: $*" >&2
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
}

retry temporal operator cluster health --address "$address" >/dev/null
if temporal operator namespace describe --namespace "$namespace" --address "$address" >/dev/null 2>&1; then
  echo "namespace $namespace is there"
else
  temporal operator namespace create --namespace "$namespace" --retention "$retention" --address "$address"
fi

listed() {
  existing=$(temporal operator search-attribute list --namespace "$namespace" --address "$address" --output json)
}
retry listed
for attribute in GameDayPlan=Keyword GameDayPhase=Keyword GameDayOutcome=Keyword GameDayTargets=KeywordList; do
  name=${attribute%%=*}
  type=${attribute#*=}
  case "$existing" in
    *"\"$name\""*) echo "search attribute $name is there" ;;
    *)
      retry temporal operator search-attribute create --namespace "$namespace" --address "$address" \
        --name "$name" --type "$type"
      ;;
  esac
done
