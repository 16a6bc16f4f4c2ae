"""The small base every app stands on: settings helpers, encryption of secrets, model fields, the ``$batch`` codec.

It imports no app of the project (``portal``, ``connections``, ``mappings``, ``syncjobs``) and no emulator; the
import-linter contracts in ``pyproject.toml`` hold it to that.
"""
