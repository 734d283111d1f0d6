"""Gunicorn settings for the `web` service (Dockerfile, docker-compose.yml).

    gunicorn --config sls_portal/gunicorn.conf.py sls_portal.wsgi

Everything can be changed from the environment:

- PORT (8000).
- WEB_CONCURRENCY: worker processes. Default: one per core. A login is one
  Argon2 hash (100 MiB of memory, several threads, about the whole of a
  core's time for a login), so more processes than cores only queue.
- GUNICORN_TIMEOUT (30 s).
- BEHIND_TLS_PROXY (off): set to 1 when a proxy in front terminates TLS.
  Then gunicorn takes `X-Forwarded-Proto: https` as "this request came over
  HTTPS", but only from a peer in FORWARDED_ALLOW_IPS (default 127.0.0.1,::1:
  set it to the proxy's address). From any other peer the header is ignored.
  Off, the header is ignored from everyone. Django never reads it itself.
- GUNICORN_PROXY_PROTOCOL (off): `v1`, `v2` or `auto` when the proxy in
  front speaks the PROXY protocol (HAProxy `send-proxy`, nginx
  `proxy_protocol on`). Then REMOTE_ADDR is the client's address, which the
  audit log and the per-address throttle use; otherwise it is the proxy's.
  PROXY_ALLOW_IPS: the proxies allowed to send it (default 127.0.0.1).
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so a slow leak cannot grow for ever.
max_requests = 2000
max_requests_jitter = 200
# The heartbeat file on tmpfs, not on the container's overlay filesystem.
worker_tmp_dir = "/dev/shm"

_behind_tls_proxy = os.environ.get("BEHIND_TLS_PROXY", "").strip().lower() in {"1", "true", "yes", "on"}
# Only the one header our proxy sets; the proxy must overwrite (not append to) it.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"} if _behind_tls_proxy else {}
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

proxy_protocol = os.environ.get("GUNICORN_PROXY_PROTOCOL", "off")
proxy_allow_ips = os.environ.get("PROXY_ALLOW_IPS", "127.0.0.1,::1")

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
