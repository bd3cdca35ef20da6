"""Every dreamfx hook is a *registration hook*: it receives a `register` callback and calls it
once per component it provides. Hooks are called once per process, when the plugin host is
built: built-ins first, then third-party plugins of the `dreamfx` entry-point group.

A plugin imports everything it needs from `dreamfx.plugin` (the hook marker `hookimpl`, the
component protocols and base classes, the errors, the types a factory receives):

```python
from dreamfx.plugin import hookimpl
```

Each plugin's hooks are called through pluggy apart from every other plugin's, so a
`wrapper=True` (or `hookwrapper=True`) implementation runs around its own plugin's plain
ones, and what a hook registers or raises is attributed to its own plugin. A plugin's
registrations count only if all its hooks ran cleanly: a hook that raises half-way leaves
nothing registered, and the plugin is listed as failed with its error (`--strict` makes that
fatal).

Compute in `keras.ops`, never `tf.*`: objective scores, scaler geometry (with the host's
`resize`, `reflect_pad` and `tile_grid`) and loop arithmetic, so the same plugin runs on
any Keras backend. Gradients, compilation and device placement belong to the host.
"""

from dreamfx.host.hookspecs.components import (Register, dreamfx_register_loops, dreamfx_register_models,
                                               dreamfx_register_objectives, dreamfx_register_optimizers,
                                               dreamfx_register_presets, dreamfx_register_scalers, hookspec)
from dreamfx.host.hookspecs.runs import RegisterCommand, dreamfx_register_commands, dreamfx_register_executors

#: Every hook, in the order the reference documents them.
__all__ = ["Register", "RegisterCommand", "hookspec", "dreamfx_register_models", "dreamfx_register_objectives",
           "dreamfx_register_scalers", "dreamfx_register_optimizers", "dreamfx_register_loops",
           "dreamfx_register_presets", "dreamfx_register_executors", "dreamfx_register_commands"]
