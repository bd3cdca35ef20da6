"""What a dream is asked to do: presets, ``--set`` overrides and setting values turned into
checked, typed :class:`~.settings.Settings`; devices by name; the request every command and
the API share (:mod:`.request`)."""
