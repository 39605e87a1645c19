"""`reenact ui`: a web page (gradio) over the animate, talk and dub pipelines.

    handlers.py   the page's work without gradio: inputs -> pipeline -> marked, verified video
                  (`Models`, the loaded models every render reuses; `Rendered`; `UiError`)
    app.py        the gradio page: three tabs, progress, examples from samples/, errors as
                  one-line messages (gradio is imported lazily: `pip install 'reenact[ui]'`)

The command itself (flags, loading the model once, binding the server) is `reenact.cli.ui`.
"""
