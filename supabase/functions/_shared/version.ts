// The kernel's release version, reported by /health and attached to error reports.
//
// deno.json's "version" is the one source; this copy exists because `supabase functions deploy`
// bundles each function's module graph from supabase/functions/, and a JSON import of the
// repository root's deno.json (three levels up, outside that folder) is not something we can rely
// on the bundler to ship. version.test.ts fails whenever the two differ.
export const KERNEL_VERSION = '0.1.0'
