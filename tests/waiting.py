"""How long a test waits for real work (a training step, a model load, a save) to signal.

A ceiling for a hang, never a speed check: on a loaded 2-core CI machine a pre-flight once
took over 90 s and failed the suite. Speed is measured in benchmarks/, not here.
"""

WORK_MS = 600_000
