"""Citizen inzage: the service that gathers a citizen's processings, its JSON API (`_api`), the page (`_page`)."""
