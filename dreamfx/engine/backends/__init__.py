"""The kernels: what differs between the Keras backends, one module each
(:mod:`.tensorflow_kernel`, :mod:`.jax_kernel` with :mod:`.jax_pooling`). Each module has the
same names (a kernel is a module, not a class: nothing to instantiate, nothing to keep):

- ``NAME``, ``WHOLE_DREAMS``, ``PADS_CHUNKS``, ``QUIET_ENV``, ``NOISY_MODULES``, ``RESIZE_METHODS``;
- the step loop's needs: ``compile_step``, ``compile_function``, ``value_and_grad``,
  ``chunked``, ``fori``, ``roll``, ``like``, ``wait``, ``tensor``, ``tree_map``;
- devices and start-up: ``resolve_device``, ``on_device``, ``set_threads``, ``start``,
  ``quiet_loggers``;
- resizing and feature models: ``check_resize_method``, ``resize``, ``feature_model``.

``tests/test_backends.py`` checks that both kernels define every one of them.
"""

#: What every kernel module defines (see the module docstring).
KERNEL_NAMES: tuple[str, ...] = (
    "NAME", "WHOLE_DREAMS", "PADS_CHUNKS", "QUIET_ENV", "NOISY_MODULES", "RESIZE_METHODS",
    "compile_step", "compile_function", "value_and_grad", "chunked", "fori", "roll", "like", "wait", "tensor",
    "tree_map", "resolve_device", "on_device", "set_threads", "start", "quiet_loggers", "check_resize_method",
    "resize", "feature_model",
)
