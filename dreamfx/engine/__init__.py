"""The dream engine: gradient ascent on an image, written once over ``keras.ops``.

- :mod:`.steps` -- one step of the ascent (views, shifts, evening out, the update, the clip)
  and the compiled step loop, backend-free;
- :mod:`.ascent` -- a round run in bounded pieces (:class:`~.ascent.Ascent`), the host's
  compile service and what a loop is handed;
- :mod:`.whole` -- small dreams traced as one compiled call;
- :mod:`.scoring` -- the objective per image, the one way every part of dreamfx scores;
- :mod:`.features` -- the feature models (model input -> the objective's layers);
- :mod:`.stateless` -- TensorFlow's stateless random numbers in NumPy (the same on every backend);
- :mod:`.backends` -- the kernels: only what truly differs between TensorFlow and JAX.

Nothing here imports a backend at import time; :func:`dreamfx.engine.backend.kernel` picks the kernel.
"""
