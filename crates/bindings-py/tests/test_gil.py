"""Long calls release the GIL, and Ctrl-C interrupts them."""
import json
import os
import signal
import threading
import time

import pytest

from assetwarden import Engine


def big_inventory(n: int) -> bytes:
    lines = []
    for i in range(n):
        lines.append(json.dumps({
            "resourceType": "AWS::EC2::SecurityGroup",
            "arn": f"arn:aws:ec2:eu-west-1:111111111111:security-group/sg-{i}",
            "accountId": "111111111111", "awsRegion": "eu-west-1", "tags": {"Owner": "x"},
            "supplementaryConfiguration": {},
            "configuration": {"groupName": f"g{i}", "ipPermissions": [
                {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"]},
                {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": ["10.0.0.0/8"]}]},
        }))
    return ("\n".join(lines) + "\n").encode()


def test_another_thread_runs_during_a_long_scan():
    data = big_inventory(60_000)
    engine = Engine()
    counter = 0
    stop = threading.Event()

    def spin():
        nonlocal counter
        while not stop.is_set():
            counter += 1

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)
    before = counter
    started = time.monotonic()
    report = engine.scan(data)
    took = time.monotonic() - started
    during = counter - before
    stop.set()
    t.join()
    assert report.coverage["resources"] == 60_000
    assert took > 0.05, took
    # With the GIL held for the whole call the other thread could not count at all.
    assert during > 10_000, (during, took)


def test_ctrl_c_interrupts_a_long_scan():
    data = big_inventory(200_000)
    engine = Engine()
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        engine.scan(data)
    timer.cancel()
    assert time.monotonic() - started < 30
