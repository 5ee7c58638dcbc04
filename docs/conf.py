"""Sphinx configuration for the skstack documentation (built offline: no intersphinx)."""

import skstack

project = "skstack"
author = "skstack developers"
copyright = "2026, skstack developers"
release = skstack.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
# The gallery runs every examples/plot_*.py at build time, so the output shown is real;
# the other examples (multimodal.py needs minutes of image and text encoding) are shown
# without running.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
}
autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # Metadata-routing setters come from scikit-learn, with docs that point into its site.
    "exclude-members": "set_fit_request,set_score_request,set_transform_request,"
    "set_predict_request,set_predict_proba_request",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
templates_path = []
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = "skstack"
