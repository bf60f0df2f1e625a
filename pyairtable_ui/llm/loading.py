"""Import litellm when a model call needs it, not when the app's modules are imported.

litellm costs about 175 MB and seconds of CPU to import, and most processes that
import the app (the command line, migrations, the page build, tests) never call a
model. A web worker loads it in a thread once it serves (`preload_litellm`, a
lifespan task of the chat page), so the first answer is not held up by the
import; a model call that comes sooner loads it itself, also in a thread, so the
event loop keeps serving the other tabs meanwhile.
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


async def preload_litellm() -> None:
    """Load litellm in the background (a lifespan task: started with the app, never awaited)."""
    try:
        await load_litellm()
    except Exception:
        # The first model call imports it again and reports what goes wrong to the user.
        logger.exception("loading litellm in the background failed")


async def load_litellm() -> ModuleType:
    """litellm for a coroutine: the first import runs in a thread, off the event loop.

    Returns:
        The litellm module.
    """
    if _module is not None:
        return _module
    return await asyncio.to_thread(litellm_module)
