"""The audit log: who changed what, when, from which surface (web, API, CLI, import, admin...)."""
