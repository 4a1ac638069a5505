"""gunicorn's access and error logs with the redaction Django's logs have (mailer.pii).

The access log would otherwise print every request line as it came: search queries
(`?q=ivan.petrov%40example.ru`), paths with an address, referers carrying both. Query
values are masked whole (search terms are personal data, whatever they hold), then the
address filter runs over the finished line, as it does on every other handler.
"""

from gunicorn.glogging import Logger

from mailer.pii import RedactEmailsFilter, mask_query_values

# Atoms of the access log format holding a URL or a query string ("r", the request line,
# is rebuilt around its URL).
_URL_ATOMS = ("f", "{raw_uri}e", "{http_referer}e", "{referer}i")
_QUERY_ATOMS = ("q", "{query_string}e")


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)  # creates the handlers anew, also on a configuration reload
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactEmailsFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        uri = mask_query_values(environ["RAW_URI"])
        atoms["r"] = f"{environ['REQUEST_METHOD']} {uri} {environ['SERVER_PROTOCOL']}"
        for key in _URL_ATOMS:
            if atoms.get(key):
                atoms[key] = mask_query_values(atoms[key])
        for key in _QUERY_ATOMS:
            if atoms.get(key):
                atoms[key] = mask_query_values(f"?{atoms[key]}").removeprefix("?")
        return atoms
