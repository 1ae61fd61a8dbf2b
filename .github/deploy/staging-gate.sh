#!/usr/bin/env bash
# Schema changes reach production only after staging took them: this passes when some commit
# whose `schema` deployment to staging succeeded (metrics.deployments, where every environment's
# deployments are recorded) has the same supabase/migrations as the commit being deployed. The
# commit itself may differ (a merge of develop into main is a new commit with the same files).
# Migrations of the `metrics` schema (<version>_metrics_<what>.sql) are the one exception: CI/CD
# data the app never reads, so they may go straight to production (seed 004), and a metrics
# change is then the only difference allowed.
# Needs METRICS_DB_URL, psql and the repository's history (checkout with fetch-depth: 0).
set -euo pipefail

: "${METRICS_DB_URL:?METRICS_DB_URL is not set: the gate reads staging deployments from it}"
migrations=supabase/migrations
metrics_only="^$migrations/[0-9]{14}_metrics_[a-z0-9_]+\.sql\$"

# The newest first: the last staging deployment is the likeliest match.
shas=$(psql "$METRICS_DB_URL" -v ON_ERROR_STOP=1 -X -A -t -c "
  select d.git_sha
  from metrics.deployments d
  where d.environment = 'staging' and d.component = 'schema' and d.status = 'succeeded'
  order by d.finished_at desc
  limit 50")

for sha in $shas; do
  if ! git cat-file -e "$sha^{commit}" 2>/dev/null; then
    continue # deployed from a commit this repository no longer has
  fi
  others=$(git diff --name-only "$sha" HEAD -- "$migrations" | grep -Ev "$metrics_only" || true)
  if [ -z "$others" ]; then
    echo "staging gate: these migrations were deployed to staging at $sha"
    git diff --name-only "$sha" HEAD -- "$migrations" |
      sed 's/^/staging gate: straight to production (metrics schema): /'
    exit 0
  fi
done

echo "::error::staging gate: no successful staging schema deployment has these migrations." \
  "Deploy them to staging first (push to develop, or run this workflow for staging)."
if [ -n "$shas" ]; then
  newest=$(printf '%s\n' "$shas" | head -n 1)
  echo "Migrations that differ from the newest staging deployment ($newest):"
  git diff --name-status "$newest" HEAD -- "$migrations" || true
else
  echo "No successful staging schema deployment is recorded in metrics.deployments."
fi
exit 1
