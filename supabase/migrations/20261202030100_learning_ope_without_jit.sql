-- JIT compilation took about 300 ms of a 1.3–1.9 s policy_ope run over 1,000,000 slots and never
-- paid for itself: the plan is one parallel scan and two small hash joins either way. Off for
-- this function only (a function-level setting, applied while it runs).
alter function public.policy_ope(text, timestamptz, real) set jit = off;
