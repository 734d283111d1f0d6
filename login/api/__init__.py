"""The trading platform's login API (API.md, docs/api.md, docs/openapi.json).

Thin views over login.flows: the same two steps as the web, on the
platform's channel, with an opener (platform.ApiOpener) that hands out the
API's login token at step 1 and a bearer token at step 2. Every answer is
JSON, errors in API.md's shape (errors.py); no cookie goes in or out
(middleware.py).
"""
