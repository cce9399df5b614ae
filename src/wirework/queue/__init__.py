"""Executors: where accepted executions run (in-process now; workers through a broker later)."""
