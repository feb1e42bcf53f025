"""ticketctl integration tests (a package for the reason given in ``tests/unit/__init__.py``)."""
