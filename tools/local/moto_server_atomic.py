"""moto_server with DynamoDB requests handled one at a time.

moto's DynamoDB backend checks a ConditionExpression and then writes, with nothing in between to
stop another request thread from doing the same: two concurrent conditional writes on one item can
both succeed (tools/local/moto.ts explains how this was found). DynamoDB makes each single-item
write atomic, and the worker's leases, ledger and creation claims rely on that. This launcher runs
moto's own server (same arguments as `moto_server`) with one lock around every DynamoDB request.
Other services are left concurrent: SQS long polls wait inside the request and must not hold a lock.
"""

import sys
import threading

import moto.server as moto_server

_dynamodb = threading.Lock()
_run_simple = moto_server.run_simple


def _serialise_dynamodb(app):
    def wrapped(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _dynamodb:
                # The whole response is produced under the lock, not only the call.
                return list(app(environ, start_response))
        return app(environ, start_response)

    return wrapped


def _run_simple_serialised(host, port, app, **kwargs):
    return _run_simple(host, port, _serialise_dynamodb(app), **kwargs)


if __name__ == "__main__":
    moto_server.run_simple = _run_simple_serialised
    moto_server.main(sys.argv[1:])
