"""Who is asking: the client address that the login throttle and the unsubscribe page count.

Behind the compose proxy every request comes from the proxy, so RATELIMIT_IP_META_KEY
names the header it sets (HTTP_X_REAL_IP) — the same setting django-ratelimit reads.
"""

import ipaddress

from django.conf import settings

IPV6_NETWORK_BITS = 64  # one IPv6 client gets a whole /64: count the network, not each address


def client_ip(request) -> str:
    meta_key = settings.RATELIMIT_IP_META_KEY
    for candidate in (meta_key and request.META.get(meta_key), request.META.get("REMOTE_ADDR")):
        try:
            address = ipaddress.ip_address((candidate or "").strip())
        except ValueError:
            continue  # absent (a request that bypassed the proxy) or not an address
        if address.version == 6:
            return str(ipaddress.ip_network(f"{address}/{IPV6_NETWORK_BITS}", strict=False).network_address)
        return str(address)
    return "0.0.0.0"  # no usable address at all: such requests share one bucket
