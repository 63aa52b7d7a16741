"""ipywidgets views, one module per notebook topic; no maths here, only calls into the library."""
