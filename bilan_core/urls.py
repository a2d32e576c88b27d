"""The one rule for showing or logging a URL: credentials and query values never appear.

A URL may carry a secret in several places: ``https://TOKEN@host``, ``postgresql://user:PASSWORD@host``,
``?api-key=...``, ``?token=...``, ``?sslpassword=...``, ``#access_token=...``. ``masked_url`` hides all
of them and keeps what helps a person recognise the URL: scheme, host, port, path, query names and the
user name beside a password. Every message, log line and page that shows a URL goes through it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

MASK = "***"


def masked_url(url: str) -> str:
    """``url`` with its userinfo, every query value and any fragment masked."""
    try:
        parts = urlsplit(url)
        netloc = _masked_netloc(parts.netloc)
    except ValueError:
        return "<invalid URL>"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(name, MASK) for name, _ in pairs], safe="*") if pairs else MASK
    # Rebuilt by hand: urlunsplit drops a slash of "sqlite:////abs/path".
    head = f"{parts.scheme}:" if parts.scheme else ""
    if url[len(head) :].startswith("//"):
        head += "//" + netloc
    return head + parts.path + (f"?{query}" if query else "") + (f"#{MASK}" if parts.fragment else "")


def _masked_netloc(netloc: str) -> str:
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _password = userinfo.partition(":")
    # A lone user part may be a token (https://TOKEN@host); beside a password it names a user.
    shown_user = f"{user}:{MASK}" if colon and user else MASK
    return f"{shown_user}@{host}"


def url_host(url: str) -> str:
    """The host (and port) of ``url``, never its credentials."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "unknown host", parts.port
    except ValueError:
        return "unknown host"
    return f"{host}:{port}" if port else host
