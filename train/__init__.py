"""Training side of the GAN workbench: models, data, checkpoints and the training loop.

Nothing here runs at import time, and this package never imports `export` or `dashboard`.
"""
