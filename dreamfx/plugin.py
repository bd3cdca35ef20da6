"""Everything a plugin author needs (minimal version on this branch: the optimizer and loop
contract; the full public module is merged from the plugin-API branch)."""

from __future__ import annotations

from . import hookimpl
from .errors import PluginError, SettingsError
from .loop import DreamLoop, LoopResult, LoopRun, Round
from .optimize import Optimizer, OptimizerBase

__all__ = ["hookimpl", "PluginError", "SettingsError", "Optimizer", "OptimizerBase", "DreamLoop", "LoopRun", "Round",
           "LoopResult"]
