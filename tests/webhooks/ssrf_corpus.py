"""The SSRF corpus: URLs a webhook may never call, and the test resolver that serves them.

Used against the URL rules alone (test_urls.py) and through the API at create, update, test and
delivery time (test_api.py).
"""

from __future__ import annotations

# name -> addresses the test resolver answers; everything else resolves to a public address.
NAMES = {
    "public-looking.example.com": ["127.0.0.1"],
    "mixed.example.com": ["93.184.216.34", "10.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "v6-loopback.example.com": ["::1"],
}


async def resolver(host: str, port: int) -> list[str]:
    return NAMES.get(host, ["93.184.216.34"])


# Refused with or without --webhook-allow-private... (url, refused even when private allowed)
CORPUS = [
    ("https://127.0.0.1/hook", False),
    ("https://127.1.2.3/hook", False),
    ("https://localhost/hook", False),  # a loopback name whatever DNS says
    ("https://10.0.0.5/hook", False),
    ("https://172.16.0.1/hook", False),
    ("https://192.168.1.1/hook", False),
    ("https://100.64.0.1/hook", False),
    ("https://169.254.169.254/latest/meta-data/", True),
    ("https://[fe80::1]/hook", True),
    ("https://[::1]/hook", False),
    ("https://[::ffff:127.0.0.1]/hook", False),
    ("https://[::ffff:169.254.169.254]/hook", True),
    ("https://[0:0:0:0:0:0:0:1]/hook", False),
    ("https://[::ffff:7f00:1]/hook", False),
    ("https://[2002:7f00:1::]/hook", False),  # 6to4 of 127.0.0.1
    ("https://[2002:a9fe:a9fe::]/hook", True),  # 6to4 of 169.254.169.254
    ("https://[64:ff9b::a9fe:a9fe]/hook", True),  # NAT64 of 169.254.169.254
    ("https://[64:ff9b::a00:1]/hook", False),  # NAT64 of 10.0.0.1
    ("https://[fd00::1]/hook", False),
    ("https://[fc00::1]/hook", False),
    ("https://224.0.0.1/hook", True),
    ("https://[ff02::1]/hook", True),
    ("https://0.0.0.0/hook", True),
    ("https://[::]/hook", True),
    ("https://2130706433/hook", True),  # decimal 127.0.0.1
    ("https://0177.0.0.1/hook", True),  # octal
    ("https://0x7f.0.0.1/hook", True),  # hex
    ("https://0x7f000001/hook", True),
    ("https://127.1/hook", True),  # short form
    ("https://017700000001/hook", True),
    ("https://user:pass@93.184.216.34/hook", True),  # userinfo
    ("https://93.184.216.34@127.0.0.1/hook", True),
    ("https://public.example.com@127.0.0.1/hook", True),
    ("https://public.example.com%40127.0.0.1/hook", True),
    ("https://127.0.0.1\\@public.example.com/hook", True),
    ("https://@127.0.0.1/hook", True),  # empty userinfo
    ("https://public.example.com:443@127.0.0.1/hook", True),
    ("https://127.0.0.1#@public.example.com/hook", True),  # the real host is before the #
    ("https://public-looking.example.com/hook", False),  # resolves to 127.0.0.1
    ("https://mixed.example.com/hook", False),  # one private address is enough
    ("https://metadata.example.com/hook", True),
    ("https://v6-loopback.example.com/hook", False),
    ("ftp://93.184.216.34/hook", True),
    ("file:///etc/passwd", True),
    ("https:///hook", True),
    ("https://93.184.216.34:0/hook", True),
    ("https://93.184.216.34/hook#frag", True),
]

ALWAYS_REFUSED = [url for url, always in CORPUS if always]
