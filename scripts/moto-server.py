"""moto's DynamoDB server, as `python3 -m moto.server -H HOST -p PORT` starts it, with one difference: requests are
applied one at a time. moto's threaded server does not apply a conditional write atomically (of 300 races of three
concurrent conditional UpdateItems on one item, 18 to 75 had no single winner), which DynamoDB guarantees and the
session and lease code rely on. Usage: python3 scripts/moto-server.py HOST PORT
"""
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(host, port, one_at_a_time, threaded=True)


if __name__ == "__main__":
    main()
