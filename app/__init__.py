"""Dimple Studio's Gradio UI.

Owns everything a person sees: the layout, the event handlers, the HTML that
draws a Trajectory, the plots, the exports and the `generate` web API. It
knows the library only through the interface `app.protocol.StudioAssistant`
(met by `dimple.assistant.Assistant`) and the `dimple.trajectory.Trajectory`
record; it knows nothing of
tensors, tokenizers or decoding internals.

Import `app.layout.build_demo` to build the UI; this file imports nothing, so
the pure parts (render, plots, export) load without Gradio.
"""
