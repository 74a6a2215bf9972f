"""oldphoto's own plugins: each module is an entry point of group ``oldphoto`` in this
project's pyproject (``builtin``: the paper's networks, ``degradations``, ``faces``), loaded
exactly like a third-party plugin. Run from a source tree without installed metadata,
:func:`oldphoto_cli.plugins.load_plugins` imports them directly.

The separately installable plugin packages (``oldphoto-yunet``, ``oldphoto-classical``,
``oldphoto-face-weights``) are in the repository's ``plugins/`` folder.
"""
