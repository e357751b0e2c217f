"""moto's server, with each request applied atomically, as AWS applies it.

moto_server runs every request on its own thread without locking its backends, so two
concurrent DynamoDB `ADD` updates of one item can lose one of the increments, and two concurrent
SQS receives can return the same message (both seen here). AWS does neither. This launcher runs
the same moto application behind one lock: requests still arrive concurrently on many
connections, but each is applied whole before the next, which is what the adapters rely on.
sf2hs never long-polls SQS, so no request holds the lock waiting.

Usage: python scripts/moto_server.py [-H HOST] [-p PORT]
"""

import argparse
import threading
import time

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def fast_sqs_clock():
    """moto's SQS asks the clock through datetime arithmetic once per message per scan (every
    send and receive scans the whole queue), which made a 5,000-message queue take minutes to
    fill. The same instant from time.time() is ~10x cheaper; dated arguments keep moto's path."""
    import moto.sqs.models as sqs_models

    dated = sqs_models.unix_time

    def unix_time(dt=None):
        return time.time() if dt is None else dated(dt)

    def unix_time_millis(dt=None):
        return unix_time(dt) * 1000.0

    sqs_models.unix_time = unix_time
    sqs_models.unix_time_millis = unix_time_millis


class Serialized:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Consume the body inside the lock: the response is computed while iterating.
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    fast_sqs_clock()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        Serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
