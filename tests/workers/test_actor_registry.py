"""The worker process (`dramatiq workers`) imports the `workers` package only: every actor that the API, the scheduler
or another actor sends must be declared by that import, or its messages go to the dead letters as undefined."""

from __future__ import annotations

import json
import subprocess
import sys

ACTORS = "import json, dramatiq; print(json.dumps(sorted(dramatiq.get_broker().actors)))"


def actors_after(imports: str) -> set[str]:
    output = subprocess.run([sys.executable, "-c", f"{imports}; {ACTORS}"], capture_output=True, text=True,
                            check=True).stdout
    return set(json.loads(output.splitlines()[-1]))


def test_the_worker_process_declares_every_actor_the_platform_sends():
    in_worker = actors_after("import workers")
    everywhere = actors_after("import workers, scheduler.jobs, scheduler.process, api.app")

    assert everywhere - in_worker == set()
    assert {"record_sla_misses", "handle_inbound", "send_message"} <= in_worker
