#!/usr/bin/env bash
# One progress line of `make up`, in the form ops/progress.py prints:
#   [hybridflow] 12.3s  <message>
# with the seconds since STARTED (epoch seconds; the moment make started).
#   scripts/say.sh STARTED MESSAGE...
started=${1:-}; shift
now=$(date +%s.%N)
awk -v s="${started:-$now}" -v now="$now" -v msg="$*" \
  'BEGIN { printf "[hybridflow] %.1fs  %s\n", now - s, msg }'
