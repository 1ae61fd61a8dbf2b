-- pg_stat_statements in `extensions`, where every Supabase project has it: `supabase inspect db
-- outliers` / `calls` read `extensions.pg_stat_statements`, and per-statement timings are the
-- database's own record of how the RPCs perform. A no-op on Supabase, where it is installed
-- already; locally the cluster preloads the library (local/cluster.ts), without which the view
-- refuses to be read.
create extension if not exists pg_stat_statements with schema extensions;
