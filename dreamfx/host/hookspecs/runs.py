"""The hooks that register how work runs: executors (who dreams a folder run's images) and
the subcommands plugins add to ``dreamfx``."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from dreamfx.host.hookspecs.components import Register, hookspec


@hookspec
def dreamfx_register_executors(register: Register) -> None:
    """Registers executors: the engines that dream a folder run's images (`--executor`,
    `--cluster`).

    Called once when the plugin host is built. `factory(ctx, **params)` returns an
    `Executor`, an object with `run(work)`. The host plans the run first (which inputs,
    which outputs are up to date) and stays the only writer; `work` is the `FolderWork` to
    do. An in-process executor calls `work.run_here()`. A distributed one sends
    `work.tasks()` (groups of same-sized inputs as encoded bytes, picklable) to
    `work.worker_function` on its workers (optionally with `dreams_done=callback`, called on
    the worker once the task's dreams are over and only encoding is left, so the engine can
    start the worker's next task then, as `dask` does), hands each task's returned results to
    `work.finish(task, results)` (or `work.fail(task, reason)`) as they come back, checks its
    workers first with `work.check_function(work.requirements)` (None, or what is wrong
    there), may say what it is doing with `work.status(text)` (the progress line shows it),
    and ends early with `work.stop(message)` when it loses its engine (after
    `work.fail_rest(reason)` when no worker is left to finish the rest). Ctrl-C
    arrives as `KeyboardInterrupt`: cancel what is in flight and raise it again. A parameter
    called `address` receives `--cluster`. Import the engine's library inside the factory
    or `run`, never at module level: the default run must not import it. Optional:
    `describe()`.

    Example:

    ```python
    from typing import Annotated

    from dreamfx.plugin import BuildContext, PluginError, hookimpl


    class InOrder:
        \"\"\"Each task through the worker function, one at a time, in this process: what a
        distributed executor does on its workers, without the network.\"\"\"

        def __init__(self, ctx: BuildContext, address: Annotated[str, "Not used"] = ""):
            self.address = address

        def run(self, work):
            problem = work.check_function(work.requirements)
            if problem is not None:
                raise PluginError(f"this process cannot dream: {problem}")
            for task in work.tasks():
                work.finish(task, work.worker_function(task))


    @hookimpl
    def dreamfx_register_executors(register):
        register("in-order", InOrder, description="Tasks one by one through the worker function")
    ```

    Built-ins: `local` (the default: in this process), `dask` (Dask distributed: `--cluster
    local:N` or a scheduler's address; docs/cluster.md).
    """


class RegisterCommand(Protocol):
    """The callback ``dreamfx_register_commands`` receives."""

    def __call__(
        self,
        name: str,
        run: Callable[[Any], int],
        *,
        arguments: Callable[[Any], None] | None = None,
        description: str = "",
    ) -> None: ...


@hookspec
def dreamfx_register_commands(register: RegisterCommand) -> None:
    """Registers commands of the `dreamfx` program (`dreamfx NAME ...`).

    Called once per run of the program, before its arguments are parsed (also for
    `--help`, so import nothing heavy at module level: TensorFlow belongs inside `run`).
    `register(name, run, *, arguments=None, description="")`: `name` is kebab-case and
    must not be one of dreamfx's own commands (run, demo, zoom, video, oip, atlas, layers,
    presets, plugins, info, explore: `dreamfx.host.commands.BUILTIN_COMMANDS`) or another plugin's;
    `arguments(parser)` adds the command's options to its `argparse.ArgumentParser` (and
    may set `parser.description`); `run(args)` gets the parsed `argparse.Namespace` (with
    `debug` and `strict`) and returns the exit status. A
    `DreamfxError` it raises is printed as one line (exit 2 for a `SettingsError`, else 1);
    anything else is one line naming the plugin. The description is the command's line in
    `dreamfx --help`. A plugin whose hook raises, or that takes a name already taken, is
    shown as failed by `dreamfx plugins`, and the program goes on without it.

    Example:

    ```python
    from dreamfx.plugin import hookimpl


    @hookimpl
    def dreamfx_register_commands(register):
        register("hello", lambda args: print(f"hello {args.who}") or 0,
                 arguments=lambda parser: parser.add_argument("who"),
                 description="say hello")
    ```

    Built-ins: `train` (the `mnist` plugin: retrain the article's CNN).
    """
