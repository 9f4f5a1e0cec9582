#!/usr/bin/env bash
# `git bisect run` step for the kernel benchmark's baseline (the usual manual
# way): build the checked-out kernel and run the reproducer KB_RUNS times
# (default 10), KB_VMS VMs at a time; bad if any run crashed.
# The work is done by culprit-kernel's build_and_boot example, so the build
# and boot are exactly culprit's (same config step, make flags, ccache, QEMU).
# Exit: 0 good, 1 bad, 125 skip (no build / no boot), 128 abort (setup error).
# Env: KB_ENGINE (build_and_boot binary), KB_WORK, KB_CONFIG, KB_REPRO,
#      KB_RUNS, KB_VMS. Run from inside the checkout being bisected.
set -euo pipefail
: "${KB_ENGINE:?} ${KB_WORK:?} ${KB_CONFIG:?} ${KB_REPRO:?}"
src="$(git rev-parse --show-toplevel)"
echo "== $(git rev-parse --short HEAD): build + ${KB_RUNS:-10} runs" >&2
exec "$KB_ENGINE" "$src" "$KB_WORK" "$KB_CONFIG" "$KB_REPRO" "${KB_RUNS:-10}" "${KB_VMS:-2}"
