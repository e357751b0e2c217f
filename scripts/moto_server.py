"""moto's server, with each request applied atomically, as AWS applies it.

moto_server runs every request on its own thread without locking its backends, so two
concurrent DynamoDB `ADD` updates of one item can lose one of the increments, and two concurrent
SQS receives can return the same message (both seen here). AWS does neither. This launcher runs
the same moto application behind one lock: requests still arrive concurrently on many
connections, but each is applied whole before the next, which is what the adapters rely on.
sf2hs never long-polls SQS, so no request holds the lock waiting.

It also takes the whole-queue scans out of moto's SQS hot paths (`fast_sqs_clock`,
`fast_sqs_lookups`): moto computed every queue attribute, message counts included, once per
message sent and once per message received, and found a receipt handle by asking every message.
With tens of thousands of messages queued that held moto at ~15 requests/s. The answers are the
same; `tests/tests/it/conformance_aws.rs` runs the SQS adapter's conformance suite against it.

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


def fast_sqs_lookups():
    """moto finds a message by receipt handle by asking every message of the queue whether it
    ever had that handle (twice per delete, in Python), and builds the whole list of visible
    messages for every receive. With tens of thousands of messages queued (the 10,000-record
    chaos run) each request took hundreds of milliseconds and moto ran at ~15 requests/s. The
    same answers from an index of handles, and a receive that stops scanning once it has its
    batch."""
    import moto.sqs.models as sqs_models

    # Every receipt handle a message was given -> the message (moto keeps a message's old
    # handles valid too). Membership in a queue is checked by identity, in C.
    handles = {}

    received = sqs_models.Message.mark_received

    def mark_received(self, visibility_timeout=None):
        received(self, visibility_timeout)
        handles[self.receipt_handle] = self

    def find(queue, receipt_handle):
        message = handles.get(receipt_handle)
        if message is None or message not in queue._messages:
            return None
        return message

    def delete_message(self, receipt_handle):
        if receipt_handle in self.deleted_messages:
            return
        message = find(self, receipt_handle)
        if message is None:
            raise sqs_models.ReceiptHandleIsInvalid()
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)
        self._messages.remove(message)
        for handle in message.all_receipt_handles:
            handles.pop(handle, None)

    def change_message_visibility(self, queue_name, receipt_handle, visibility_timeout):
        queue = self.get_queue(queue_name)
        message = find(queue, receipt_handle)
        if message is None:
            raise sqs_models.ReceiptHandleIsInvalid
        given = sqs_models.unix_time_millis() + int(visibility_timeout) * 1000
        if given - message.sent_timestamp > 43200 * 1000:
            raise sqs_models.InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. "
                "Reason: Total VisibilityTimeout for the message is beyond the limit "
                "[43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)

    class VisibleMessages:
        """`Queue.messages` as a lazy view: iterated in the same order, counted on demand."""

        def __init__(self, queue):
            self.queue = queue

        def __iter__(self):
            return (
                m for m in list(self.queue._messages) if m.visible and not m.delayed
            )

        def __len__(self):
            return sum(1 for _ in self)

        def __bool__(self):
            return any(True for _ in self)

    def send_message(
        self,
        queue_name,
        message_body,
        message_attributes=None,
        delay_seconds=None,
        deduplication_id=None,
        group_id=None,
        system_attributes=None,
        validate_group_id=True,
    ):
        # moto's own, but for one line: it read `queue.attributes` (every attribute, the
        # message counts among them: three scans of the queue) to see whether content-based
        # deduplication is on.
        queue = self.get_queue(queue_name)
        self._validate_message(
            queue,
            message_body=message_body,
            delay_seconds=int(delay_seconds or 0),
            deduplication_id=deduplication_id,
            group_id=group_id,
            validate_group_id=validate_group_id,
        )
        delay_seconds = int(delay_seconds) if delay_seconds is not None else queue.delay_seconds
        message = sqs_models.Message(
            str(sqs_models.random.uuid4()), message_body, system_attributes
        )
        if str(getattr(queue, "content_based_deduplication", False)).lower() == "true":
            message.deduplication_id = sqs_models.hashlib.sha256(
                message_body.encode("utf-8")
            ).hexdigest()
        if deduplication_id is not None:
            message.deduplication_id = deduplication_id
            message.sequence_number = "".join(
                sqs_models.random.choice(sqs_models.string.digits) for _ in range(20)
            )
        if group_id is not None:
            message.group_id = group_id
        if message_attributes:
            message.message_attributes = message_attributes
        if delay_seconds > sqs_models.MAXIMUM_MESSAGE_DELAY:
            raise sqs_models.InvalidParameterValue(
                f"Value {delay_seconds} for parameter DelaySeconds is invalid. "
                "Reason: DelaySeconds must be >= 0 and <= 900."
            )
        message.mark_sent(delay_seconds=delay_seconds)
        queue.add_message(message)
        return message

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        # moto's asked for every attribute of the queue (the counts: scans) per message received.
        queue = self.get_queue(queue_name)
        retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
        return retain_until > sqs_models.unix_time()

    asked = sqs_models.SQSBackend.get_queue_attributes

    def get_queue_attributes(self, queue_name, attribute_names):
        # moto's computed every attribute up to three times per name asked for; once here.
        if not attribute_names or "All" in attribute_names:
            return asked(self, queue_name, attribute_names)
        queue = self.get_queue(queue_name)
        valid = ["All"] + queue.BASE_ATTRIBUTES + queue.FIFO_ATTRIBUTES + queue.KMS_ATTRIBUTES
        if any(name not in valid for name in attribute_names):
            return asked(self, queue_name, attribute_names)
        everything = queue.attributes
        return {
            name: everything[name]
            for name in attribute_names
            if everything.get(name) is not None
        }

    sqs_models.SQSBackend.send_message = send_message
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )
    sqs_models.SQSBackend.get_queue_attributes = get_queue_attributes
    sqs_models.Message.mark_received = mark_received
    sqs_models.Queue.delete_message = delete_message
    sqs_models.Queue.messages = property(VisibleMessages)
    sqs_models.SQSBackend.change_message_visibility = change_message_visibility


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
    fast_sqs_lookups()
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
