"""Built-in oldphoto plugins, installed as the package ``oldphoto_plugins``.

Each module is an entry point of group ``oldphoto`` in this project's pyproject, loaded
exactly like a third-party plugin. ``oldphoto-classical/`` is a separate installable
plugin package (its own pyproject).
"""
