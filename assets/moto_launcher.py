"""Starts moto's server for keyward on 127.0.0.1 and a free port, with fidelity fixes.

keyward embeds this file and runs it with the Python that has moto installed. The fixes make
moto answer as AWS does where keyward's estate depends on it:

- CloudHSM v2 timestamps: moto writes datetimes as ISO strings without a time zone, which the
  Rust SDK rejects; AWS sends epoch seconds, so that is what this launcher makes moto send.
- KMS keys with Origin EXTERNAL start in PendingImport with Enabled false, as in AWS (moto
  starts them Enabled).
- The AWS managed keys moto creates on first use of an alias/aws/* alias report KeyManager AWS
  (moto says CUSTOMER).

Protocol with keyward: one stdout line `keyward-moto-port PORT` once the socket listens, or
`keyward-moto-error MESSAGE` and exit status 3 when moto cannot be imported. The server exits
when its standard input reaches end of file, so it never outlives the keyward that started it,
even when keyward is killed.
"""

import logging
import os
import sys
import threading
from datetime import datetime, timezone


def fail(message):
    print(f"keyward-moto-error {message}", flush=True)
    sys.exit(3)


try:
    import moto
    from moto.cloudhsmv2 import responses as cloudhsmv2_responses
    from moto.kms import models as kms_models
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server
except ImportError as err:
    fail(f"moto[server] cannot be imported by {sys.executable}: {err}")


def epoch_seconds(value):
    """A datetime as AWS's JSON protocols send it; moto's naive datetimes are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def encode_datetime_as_epoch(self, o):
    if isinstance(o, datetime):
        return epoch_seconds(o)
    return super(cloudhsmv2_responses.DateTimeEncoder, self).default(o)


def patch_kms():
    original_init = kms_models.Key.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if self.origin == "EXTERNAL":
            self.key_state = "PendingImport"
            self.enabled = False

    kms_models.Key.__init__ = init

    original_default_keys = kms_models.KmsBackend._generate_default_keys

    def generate_default_keys(self, alias_name):
        key_id = original_default_keys(self, alias_name)
        if key_id is not None:
            self.keys[key_id].key_manager = "AWS"
        return key_id

    kms_models.KmsBackend._generate_default_keys = generate_default_keys


def exit_when_stdin_closes():
    """keyward holds our stdin open; end of file means keyward is gone."""
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    cloudhsmv2_responses.DateTimeEncoder.default = encode_datetime_as_epoch
    patch_kms()
    # One log line per request costs time and says nothing keyward needs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler
    )
    # moto builds some URLs (SQS queue URLs, for one) from the port it serves on.
    os.environ["MOTO_PORT"] = str(server.port)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"keyward-moto-port {server.port} moto {moto.__version__}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
