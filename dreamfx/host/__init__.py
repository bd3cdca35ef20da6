"""The plugin host: how components are found, registered and checked.

- :mod:`.hookspecs` -- the hooks a plugin implements (one registration hook per kind);
- :mod:`.manager` -- ``create_host()``: the pluggy manager, built-ins and entry points, a
  broken plugin isolated;
- :mod:`.registry` -- named components, their parameters from the factory's signature, the
  checks a built component must pass;
- :mod:`.commands` -- the subcommands plugins add to ``dreamfx``.
"""
