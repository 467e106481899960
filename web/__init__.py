"""The web channel: the reporters' mobile pages on the commission's own address (and, later, the
office console). A second presentation layer beside ``handlers/``: a route parses the request,
calls one use case in ``bot/services/``, renders a Jinja2 template. No Telegram library here.

- ``channel.py``: the routes, the security headers and the body cap, added to an aiohttp app.
- ``pages.py``: the page handlers.
- ``render.py``: the template environment (HTML, autoescaped, strict).
- ``templates/``, ``static/``: the pages and their one stylesheet, all served by Lianka itself.
"""
