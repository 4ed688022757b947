"""An SMTP server for tests (aiosmtpd): STARTTLS required or implicit TLS, AUTH
required, each message written as a JSON file into the output directory.

python3 -m smtp_sink PORT MODE(starttls|implicit) CERT KEY USER PASSWORD OUT_DIR
"""

import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.out, "%020d-%04d.json" % (time.time_ns(), self.count))
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
        }
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


def main():
    port, mode, cert, key, user, password, out = sys.argv[1:8]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    options = dict(
        hostname="127.0.0.1",
        port=int(port),
        authenticator=authenticator(user, password),
        auth_required=True,
        auth_require_tls=True,
    )
    if mode == "implicit":
        options["ssl_context"] = context
        # aiosmtpd only counts STARTTLS as TLS for `auth_require_tls`; this connection
        # is TLS from its first byte.
        options["auth_require_tls"] = False
    else:
        options["tls_context"] = context
        options["require_starttls"] = True
    controller = Controller(Sink(out), **options)
    controller.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
