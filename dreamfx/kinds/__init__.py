"""The contracts of the plugin kinds: what a model, an objective, a scaler, an optimizer and
a dream loop are (protocols and helpers plugins build on; the public names are re-exported
by :mod:`dreamfx.plugin`)."""
