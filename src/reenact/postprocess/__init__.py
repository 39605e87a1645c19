"""Postprocessing between the generator and io: putting the animated crop back into the full frame.

Submodules are imported explicitly (`reenact.postprocess.paste`) so that importing this package loads
nothing heavy.
"""
