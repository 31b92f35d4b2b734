"""Turns the pipeline's ``Send`` requests into Dramatiq messages, after the stage has committed."""

from __future__ import annotations

from collections.abc import Sequence

import dramatiq

from pipeline.messages import Send


def send_all(sends: Sequence[Send]) -> None:
    broker = dramatiq.get_broker()
    for send in sends:
        broker.get_actor(send.actor).send(**send.kwargs)
