"""Sphinx configuration of the course's site: MyST pages and the student lessons rendered by myst-nb, unexecuted.

Build it with ``make docs`` (into docs/_build/html); tests/docs/test_site.py builds it with warnings as errors and
checks every relative link of the result.
"""

project = "Transfer learning and data augmentation"
author = "the course's maintainers"
copyright = "2026, the course's maintainers"

extensions = ["myst_nb"]  # myst-nb brings myst-parser: Markdown pages and notebooks
# The lessons are the students' notebooks (lessons/, through the docs/lessons link): shown as committed, no outputs.
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links to headings of levels 1-3, checked at build time

highlight_language = "text"  # a fence without a language is printed output, not Python
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
nitpicky = True  # every reference must resolve

html_theme = "sphinx_book_theme"
html_title = "Stanford Dogs course"
html_theme_options = {"show_toc_level": 2}
# The theme logs an error in the browser console for an empty colour mode, which is its default here.
html_context = {"default_mode": "light"}
html_last_updated_fmt = None
