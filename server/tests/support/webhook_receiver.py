"""A webhook receiver for Attest's tests: verifies every delivery with the third-party
`standardwebhooks` package (PyPI) and logs what it saw as JSON lines.

    python webhook_receiver.py PORT_FILE LOG_FILE SECRETS_FILE

Prints nothing; writes its port to PORT_FILE once listening. SECRETS_FILE holds one
`whsec_…` secret per line and is re-read on every request (tests write it after creating
the endpoint). The request path picks the answer:
  /ok → 204   /fail → 500   /gone → 410   /redirect → 302   /slow → sleeps 3 s, then 204
  /retry-after → 429 with Retry-After: 1
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

PORT_FILE, LOG_FILE, SECRETS_FILE = sys.argv[1], sys.argv[2], sys.argv[3]
LOCK = threading.Lock()


def secrets():
    try:
        with open(SECRETS_FILE) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified_with = []
        for index, secret in enumerate(secrets()):
            try:
                Webhook(secret).verify(body, headers)
                verified_with.append(index)
            except Exception:
                pass
        record = {
            "path": self.path,
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "verified_with": verified_with,
            "body": json.loads(body or b"null"),
            "received_at": time.time(),
        }
        with LOCK, open(LOG_FILE, "a") as log:
            log.write(json.dumps(record) + "\n")
        status, extra = 204, {}
        if self.path.startswith("/fail"):
            status = 500
        elif self.path.startswith("/gone"):
            status = 410
        elif self.path.startswith("/redirect"):
            status, extra = 302, {"Location": "/ok"}
        elif self.path.startswith("/retry-after"):
            status, extra = 429, {"Retry-After": "1"}
        elif self.path.startswith("/slow"):
            time.sleep(3)
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("content-length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.replace(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
