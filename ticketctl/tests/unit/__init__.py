"""ticketctl unit tests.

A package so that pytest (importlib mode) names the modules ``unit.*`` rather than
``ticketctl.tests.unit.*``: a parent module called ``ticketctl`` would shadow the real package.
"""
