"""Offline by default: nothing the app does reaches the network unless the user asked.

Training, evaluation and export read local folders only, yet the Hugging Face libraries
phone home on their own (TRL's trainer sends usage telemetry through huggingface_hub,
and an unresolved name becomes a Hub lookup). `go_offline()` runs at process entry and
turns all of that off. A user opts in with FINETUNE_STUDIO_ONLINE=1 (their own HF_*
variables are then respected), and the model download runs in a child process started
with `online_environment()`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

ONLINE_OPT_IN = "FINETUNE_STUDIO_ONLINE"

# Each library's own "do not touch the network" switch.
OFFLINE_VARIABLES = {
    "HF_HUB_OFFLINE": "1",  # huggingface_hub: every HTTP call raises instead
    "TRANSFORMERS_OFFLINE": "1",  # transformers: resolve names from the local cache only
    "HF_DATASETS_OFFLINE": "1",  # datasets: no Hub scripts or files
}
# Usage pings (TRL's trainer calls huggingface_hub.utils.send_telemetry at construction).
TELEMETRY_VARIABLES = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}


def online_opted_in(environ: MutableMapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get(ONLINE_OPT_IN, "").strip().lower() in ("1", "true", "yes", "on")


def go_offline(environ: MutableMapping[str, str] | None = None) -> None:
    """Switch the Hub libraries to offline and telemetry off, unless the user opted in.

    Call it before torch/transformers/trl are imported; it also updates huggingface_hub's
    constants when that module was imported already (it reads them once, at import).
    """
    environ = os.environ if environ is None else environ
    if online_opted_in(environ):
        # The user asked for the network: keep their choices, default telemetry to off.
        for name, value in TELEMETRY_VARIABLES.items():
            environ.setdefault(name, value)
    else:
        environ.update(OFFLINE_VARIABLES)
        environ.update(TELEMETRY_VARIABLES)
    if environ is os.environ:
        _sync_imported_constants()


def _sync_imported_constants() -> None:
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is None:
        return
    truthy = ("1", "true", "yes", "on")
    offline = any(os.environ.get(n, "").lower() in truthy for n in OFFLINE_VARIABLES)
    no_telemetry = any(os.environ.get(n, "").lower() in truthy for n in TELEMETRY_VARIABLES)
    constants.HF_HUB_OFFLINE = offline
    constants.HF_HUB_DISABLE_TELEMETRY = no_telemetry


def online_environment(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process the user started to download (a model):
    the Hub reachable, telemetry still off."""
    env = dict(os.environ if environ is None else environ)
    for name in OFFLINE_VARIABLES:
        env.pop(name, None)
    env.update(TELEMETRY_VARIABLES)
    env[ONLINE_OPT_IN] = "1"
    return env
