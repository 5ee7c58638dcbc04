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
]
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
exclude_patterns = ["_build"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = "skstack"
