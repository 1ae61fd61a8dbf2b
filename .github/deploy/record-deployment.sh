#!/usr/bin/env bash
# Records one end of a deployment step with `ops metrics record-deployment`, in the metrics
# database (METRICS_DB_URL: production's, since seed 004 keeps every environment's CI/CD data in
# one place). Metrics never block a deployment: a failure to record is a warning, not a failed
# job. The staging gate reads these rows, so a missing `succeeded` row for staging holds the
# next production deployment until it is recorded (README, "Deploying").
# usage: record-deployment.sh <component> <started|succeeded|failed|rolled_back>
# Reads DEPLOY_ENVIRONMENT, DEPLOY_VERSION and GitHub's own GITHUB_* variables.
set -uo pipefail

component=$1
status=$2
if [ -z "${METRICS_DB_URL:-}" ]; then
  echo "::warning::METRICS_DB_URL is not set: deployment of $component not recorded"
  exit 0
fi
# The metrics database only: the project being deployed must not leak into the target.
if ! env -u SUPABASE_URL -u SUPABASE_ANON_KEY -u SUPABASE_SERVICE_ROLE_KEY \
  SUPABASE_DB_URL="$METRICS_DB_URL" \
  npx --yes deno@2.9.6 task ops metrics record-deployment \
  --environment "$DEPLOY_ENVIRONMENT" --component "$component" --version "$DEPLOY_VERSION" \
  --git-sha "$GITHUB_SHA" --status "$status" --actor "github:$GITHUB_ACTOR" \
  --reason "$GITHUB_WORKFLOW run $GITHUB_RUN_ID ($GITHUB_EVENT_NAME on $GITHUB_REF_NAME)"; then
  echo "::warning::could not record $component $status for $DEPLOY_ENVIRONMENT in metrics"
fi
