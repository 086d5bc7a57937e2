"""How a call's stay in a queue ended, read from the reason Telnyx gives in call.dequeued.

The history page, the call timeline and the queue figures all sort a departure the same way:
these reasons mean a supervisor or agent took the call, those mean the caller gave up or ran out
of time; any other reason is a plain departure.
"""

ANSWERED_REASONS = {"bridged", "bridging-in-process"}
ABANDON_REASONS = {"hangup", "timeout"}
