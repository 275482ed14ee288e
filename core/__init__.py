"""The torch-free core that `train/`, `export/` and `dashboard/` share.

What lives here needs only the standard library, numpy and Pillow: one-line user errors,
atomic and bounded file I/O, image grids, the typed description of a trained model
(`spec.ModelSpec`), and the run-folder layout with its readers. The dashboard imports this
package and `inference.runtime`, never `train/`, so nothing added to the training side can pull
torch into the dashboard process; `tests/test_layering.py` keeps it so.
"""
