"""Hardware probes run in a child process, so that whatever a failed probe leaves behind
(a CUDA context half torn down, a driver error that sticks) stays out of the process that
asked: a render worker keeps its CUDA state and only learns the answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE_TIMEOUT_S = 60
_ROOT = Path(__file__).resolve().parents[2]


def probe_in_child(kind: str, gpu_id: int) -> tuple[bool, str]:
    """``(opens, why)`` from ``python -m farm.media._probe_child KIND GPU`` in a fresh process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    try:
        done = subprocess.run([sys.executable, "-m", "farm.media._probe_child", kind, str(gpu_id)],
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env, cwd=_ROOT)
    except subprocess.TimeoutExpired:
        return False, f"the NVENC probe did not answer in {PROBE_TIMEOUT_S} s"
    except OSError as err:
        return False, f"the NVENC probe could not start ({err})"
    for line in reversed(done.stdout.splitlines()):
        try:
            answer = json.loads(line)
            return bool(answer["opens"]), str(answer["why"])
        except (ValueError, KeyError, TypeError):
            continue
    tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return False, f"the NVENC probe failed ({tail[:200]})"


def _main(argv: list[str]) -> int:
    kind, gpu_id = argv[0], int(argv[1])
    if kind == "nvenc_pyav":
        from farm.media._encode import open_nvenc_pyav_session

        opens, why = open_nvenc_pyav_session()
    elif kind == "nvenc_gpu":
        from farm.media._gpu import open_nvenc_gpu_session

        opens, why = open_nvenc_gpu_session(gpu_id)
    else:
        print(f"unknown probe {kind!r}", file=sys.stderr)
        return 2
    print(json.dumps({"opens": opens, "why": why}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
