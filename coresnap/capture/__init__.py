"""Capture: the core_pattern pipe handler (``coresnap-archive``) and the hook installer.

Everything the archive tool imports from here is stdlib only: the interpreter starts once per
crash, from the kernel, and must not pull in third-party packages.
"""
