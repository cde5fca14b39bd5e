"""A stand-in for the Assistant that loads the model on first use.

Owns when the model is loaded: not at import (so `import app` and building the
UI are cheap, and a module-level `demo` costs no weights), but on the first
attribute access, once, under a lock, from whichever thread gets there first.
`warm_up()` starts loading in the background so the first person does not
wait. It knows nothing of Gradio or of what the model does.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional


def loader_for(quantize: Optional[str] = None, calibrate: bool = False,
               int4_codes: Optional[str] = None) -> Callable[[str, str], Any]:
    """(name, device) -> Assistant, loading quantised linears when `quantize` is "int8", "w8a8" or "int4";
    `calibrate` (int4 only): choose the int4 codes by GPTQ while the studio's own examples decode
    (`dimple.int4_gptq`): closer to the float model, at a load-time cost that grows with the model (seconds for
    Dimple-Tiny, hours for the 7B on two CPU cores; docs/scale.md); `int4_codes` (int4 only): read the
    codes saved by `python -m dimple.int4_codes` instead of choosing them (a 7B's load then takes what bf16's does)."""
    from dimple.loading import check_int4_options

    check_int4_options(quantize, calibrate, bool(int4_codes))  # at start-up, not at the first visitor

    def load(name: str, device: str):
        from dimple.assistant import Assistant, calibration_pairs
        from dimple.loading import ASSETS

        pairs = calibration_pairs(ASSETS / "examples") if calibrate else ()
        return Assistant.load(name, device=device, quantize=quantize, calibration=pairs, int4_codes=int4_codes)
    return load


class LazyAssistant:
    def __init__(self, name: str = "tiny", device: str = "cpu",
                 loader: Optional[Callable[[str, str], Any]] = None, quantize: Optional[str] = None,
                 calibrate: bool = False, int4_codes: Optional[str] = None) -> None:
        self.__dict__["_name"] = name
        self.__dict__["_device"] = device
        self.__dict__["quantize"] = quantize  # None, "int8", "w8a8" or "int4": what the default loader loads
        self.__dict__["calibrate"] = calibrate  # int4 calibrated on the studio's examples (GPTQ)
        self.__dict__["int4_codes"] = int4_codes  # a file of int4 codes saved before (dimple.int4_codes)
        self.__dict__["_loader"] = loader or loader_for(quantize, calibrate, int4_codes)
        self.__dict__["_lock"] = threading.Lock()
        self.__dict__["_real"] = None
        self.__dict__["_error"] = None

    @property
    def loaded(self) -> bool:
        return self.__dict__["_real"] is not None

    @property
    def planned(self) -> tuple[str, str]:
        return self.__dict__["_name"], self.__dict__["_device"]

    def get(self):
        real = self.__dict__["_real"]
        if real is not None:
            return real
        with self.__dict__["_lock"]:
            if self.__dict__["_real"] is None:
                try:
                    self.__dict__["_real"] = self.__dict__["_loader"](self.__dict__["_name"], self.__dict__["_device"])
                    self.__dict__["_error"] = None
                except Exception as exc:  # remembered, so the UI can say why; retried on the next use
                    self.__dict__["_error"] = exc
                    raise
            return self.__dict__["_real"]

    def warm_up(self) -> threading.Thread:
        def run():
            try:
                self.get()
            except Exception as exc:  # reported again to the first user
                print(f"[dimple studio] model load failed: {exc}", flush=True)

        t = threading.Thread(target=run, name="dimple-warm-up", daemon=True)
        t.start()
        return t

    def __getattr__(self, item: str):
        return getattr(self.get(), item)
