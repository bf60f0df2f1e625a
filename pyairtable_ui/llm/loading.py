"""Import litellm when a model call needs it, not when the app's modules are imported.

litellm adds about 110 MB and seconds of CPU to a process that imports it, more
than the rest of the app beyond Reflex, and many processes that import the app (the
command line, the page build, tests, a worker nobody has asked yet) never call a
model. So the first model call of a process loads it, in a thread, so the event
loop keeps serving the other tabs meanwhile; that first answer starts a few seconds
later (`python -m benchmarks.memory` prints both figures).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from types import ModuleType

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_module: ModuleType | None = None


def litellm_module() -> ModuleType:
    """litellm, imported and set up on the first call (blocking; cheap afterwards).

    Returns:
        The litellm module, with telemetry and debug hints off.
    """
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            # Before the import: otherwise litellm fetches its model cost map from the internet.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            started = time.monotonic()
            import litellm

            litellm.telemetry = False
            litellm.suppress_debug_info = True
            _module = litellm
            logger.info("litellm loaded in %.1fs", time.monotonic() - started)
    return _module


async def load_litellm() -> ModuleType:
    """litellm for a coroutine: the first import runs in a thread, off the event loop.

    Returns:
        The litellm module.
    """
    if _module is not None:
        return _module
    return await asyncio.to_thread(litellm_module)


def warm_up() -> bool:
    """Start importing litellm in a background thread, when a first question is near.

    Onboarding calls it once the user is connected (the tour and the first click take a
    few seconds): the first answer then does not wait for the import. Without that, a
    newcomer's first answer waited for it (issue 12's first-answer benchmark).

    Returns:
        True when an import was started now; False when litellm is loaded or loading.
    """
    if _module is not None or _lock.locked():
        return False
    threading.Thread(target=litellm_module, name="litellm-warm-up", daemon=True).start()
    return True
