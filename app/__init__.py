"""Dimple Studio's Gradio UI.

Owns everything a person sees: the layout, the event handlers, the HTML that
draws a Trajectory, the plots, the exports and the `generate` web API. It
knows the library only through `dimple.Assistant` (or any object with the same
methods) and the `dimple.trajectory.Trajectory` record; it knows nothing of
tensors, tokenizers or decoding internals.

Import `app.layout.build_demo` to build the UI; this file imports nothing, so
the pure parts (render, plots, export) load without Gradio.
"""
