"""What the worker runs: the pure rules, counters and lock, the send loop, SMTP, composing
messages in the template sandbox, and the reconcile of interrupted sends."""
