"""The compose proxy (issue 8, finding 8): nginx in front of `web` names the client in
X-Real-IP, `web` counts that client (RATELIMIT_IP_META_KEY) instead of the proxy, and nginx
logs no request line. Docker does not run here: the compose file is read as YAML, and the
nginx configuration itself runs in front of gunicorn when nginx is installed (CI installs it).
"""

import http.client
import re
import shutil
import signal
import subprocess
import sys

import pytest
import yaml
from django.conf import settings

from devtools import launcher
from mailer.models import Unsubscribe
from mailer.suppression import tokens
from tests.conftest import free_port, make_campaign
from tests.processes import BASE_DIR, database_url, production_env, wait_until

COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
NGINX_CONF = (BASE_DIR / "deploy" / "nginx.conf").read_text()


def test_only_the_proxy_is_published_with_the_repositorys_configuration():
    services = COMPOSE["services"]
    assert "ports" not in services["web"]
    proxy = services["proxy"]
    assert proxy["ports"] == ["${WEB_PORT:-8000}:80"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}


def test_web_counts_the_client_the_proxy_names():
    web = COMPOSE["services"]["web"]["environment"]
    assert web["RATELIMIT_IP_META_KEY"] == "HTTP_X_REAL_IP"
    assert web["DEBUG"] == "False" and "MAILER_SECRETS_KEY" in web  # the shared settings are kept
    assert "server web:8000;" in NGINX_CONF
    assert re.search(r"^\s*proxy_set_header X-Real-IP \$remote_addr;", NGINX_CONF, re.M)


def test_nginx_writes_no_request_line_to_its_logs():
    assert re.search(r"^\s*access_log off;", NGINX_CONF, re.M)
    assert re.search(r"^\s*error_log /dev/stderr crit;", NGINX_CONF, re.M)


def nginx_in_front_of(web_port, folder):
    """deploy/nginx.conf inside the http block the nginx image wraps around conf.d."""
    site = NGINX_CONF.replace("server web:8000;", f"server 127.0.0.1:{web_port};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\nerror_log {folder}/error.log notice;\npid {folder}/nginx.pid;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n  access_log {folder}/access.log;\n  client_body_temp_path {folder}/body;\n"
        f"  proxy_temp_path {folder}/proxy;\n  include {folder}/site.conf;\n}}\n"
    )
    return int(re.search(r"listen 127\.0\.0\.1:(\d+);", site).group(1))


def post_from(client_ip, port, path):
    """A one-click POST from `client_ip` (any 127.x address is this machine's loopback)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(client_ip, 0))
    try:
        connection.request(
            "POST",
            path,
            body="List-Unsubscribe=One-Click",
            headers={"Host": "crm.example.com", "Content-Type": "application/x-www-form-urlencoded"},
        )
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed (.ci/run installs it)")
@pytest.mark.django_db(transaction=True)
def test_through_the_proxy_each_client_has_its_own_bucket_and_a_valid_link_always_works(tmp_path, owner):
    recipient = make_campaign(owner, emails=["ivan.petrov@example.ru"]).recipients.get()
    valid = f"/unsubscribe/{tokens.make_token(recipient.pk)}/"
    web_port = free_port()
    proxy_port = nginx_in_front_of(web_port, tmp_path)
    check = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
    env = production_env(
        DATABASE_URL=database_url(),
        PORT=web_port,
        WEB_CONCURRENCY=1,
        SECURE_SSL_REDIRECT="False",
        RATELIMIT_IP_META_KEY="HTTP_X_REAL_IP",
        MAILER_UNSUBSCRIBE_RATE_LIMIT="3/m",
        SECRET_KEY=settings.SECRET_KEY,
    )  # the key that signed the valid link
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--config", "config/gunicorn.py"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(
            lambda: launcher.is_listening("127.0.0.1", web_port) and launcher.is_listening("127.0.0.1", proxy_port),
            timeout=20,
            step=0.2,
        )
        junk = [post_from("127.0.0.2", proxy_port, "/unsubscribe/junk/") for _ in range(5)]
        other_client = post_from("127.0.0.3", proxy_port, "/unsubscribe/junk/")
        valid_after_junk = post_from("127.0.0.2", proxy_port, valid)
    finally:
        proxy.send_signal(signal.SIGQUIT)
        web.send_signal(signal.SIGTERM)
        proxy.wait(timeout=15)
        web.wait(timeout=15)

    assert junk == [400, 400, 400, 429, 429]  # the proxy's one address would be everyone's bucket
    assert other_client == 400  # another person behind the same proxy
    assert valid_after_junk == 200
    assert Unsubscribe.objects.get().email == "ivan.petrov@example.ru"
    assert not (tmp_path / "access.log").read_text()  # the site's `access_log off` wins over the image's
    assert "ivan" not in (tmp_path / "error.log").read_text()
