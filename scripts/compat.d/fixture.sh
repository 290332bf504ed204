# The store every `list` case of scripts/compat reads (run once per tool with
# `hs` meaning that tool, in an empty site).  Keep it deterministic: one slot,
# so tasks run (and get their times) in submission order.  No retries here:
# under load 2.8.2 sometimes ends the run before it schedules them
# (s-cluster-retries covers retry rows).
hs submit -f fixture.in -t batch:one >/dev/null; echo "submit rc=$?"
hs cluster --restart -N1; echo "cluster rc=$?"
hs submit -t batch:two stage:2 -- echo later >/dev/null; echo "submit rc=$?"
hs submit -g 3 -t batch:two -- echo grouped >/dev/null; echo "submit rc=$?"
hs list args exit_status attempt group tag -f plain -s submit_time
