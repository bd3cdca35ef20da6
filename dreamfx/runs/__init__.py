"""The jobs built on the engine: folders (plan, batch, executors), the atlas and optimal
input patterns, zoom and video (with optical flow), the hints about silent maps."""
