"""One lock around every model load in this process.

transformers' from_pretrained (and from_config) swap process-global state while they
build a model: the default torch dtype, PreTrainedModel.tie_weights (off while the weights
load), torch.linspace and the torch.nn.init functions. Two loads that overlap in two
threads restore each other's patched copies: tie_weights can stay disabled for good and a
later load hands back a tied lm_head that never got its data ("Cannot copy out of meta
tensor; no data!"), or the default dtype flips under the other thread. The app loads in
several threads (training, evaluation, chat, export, the dataset's model checks), so every
load holds this lock. Loads are seconds against minutes of work, so serialising them costs
little; the lock is re-entrant because a load may call another loading helper.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.RLock()


@contextmanager
def model_loading() -> Iterator[None]:
    """Hold while calling from_pretrained/from_config (model, PEFT adapter, quantizer)."""
    with _LOCK:
        yield
