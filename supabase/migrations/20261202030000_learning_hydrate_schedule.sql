-- hydrate-features every 5 minutes: folds new learning events and rewards into the feature store
-- the ranker scores from. One pass reads at most 100,000 events (about a second); a larger
-- backlog is caught up over the following passes, and overlapping passes never double count
-- (ops.hydrate_features serialises them on its state row).
select ops.schedule_function(
  p_job_name => 'hydrate-features',
  p_schedule => '*/5 * * * *',
  p_function_name => 'hydrate-features',
  p_body => '{"max_events": 100000}'::jsonb);
