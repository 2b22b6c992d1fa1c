"""Deploying coresnap on a host: the packaging files (package data under data/packaging/)
rendered with the paths of this installation (``layout``), put in place and taken away again
by ``coresnap install --system`` / ``uninstall --system`` (``system``), and laid out the same
way in a Debian package (tools/build-deb.py)."""
