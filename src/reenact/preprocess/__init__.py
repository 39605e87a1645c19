"""Preprocessing between io and the models: face analysis and square crops that follow the face.

Submodules are imported explicitly (`reenact.preprocess.face`, `reenact.preprocess.crop`) so that
importing this package loads nothing heavy.
"""
