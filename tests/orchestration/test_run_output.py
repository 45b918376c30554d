"""What ``lavoro run`` shows of Dagster's and dbt's output on a failure: never a traceback."""

from __future__ import annotations

from lavoro_debole.orchestration.run import without_tracebacks

LOGGING_ERROR = """\
2026-12-01 15:50:01 - dagster - ERROR - step ingest_cfp failed
--- Logging error ---
Traceback (most recent call last):
  File "/usr/lib/python3.11/logging/__init__.py", line 1114, in emit
    self.flush()
    ^^^^^^^^^^^^
OSError: [Errno 28] No space left on device
Call stack:
  File "/venv/bin/lavoro", line 8, in <module>
    sys.exit(main())
Message: 'Caricato %s'
Arguments: ('RSSMRA80A01F205X.xlsx',)
Spazio su disco esaurito: elaborazione interrotta.
"""

CHAINED = """\
Traceback (most recent call last):
  File "a.py", line 1, in <module>
    f()
ValueError: primo

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "a.py", line 3, in <module>
    g()
RuntimeError: secondo
dbt non è riuscito
"""


def test_a_logging_error_leaves_only_what_happened():
    kept = without_tracebacks(LOGGING_ERROR.splitlines())
    assert kept == [
        "2026-12-01 15:50:01 - dagster - ERROR - step ingest_cfp failed",
        "OSError: [Errno 28] No space left on device",
        "Spazio su disco esaurito: elaborazione interrotta.",
    ]
    text = "\n".join(kept)
    assert "Traceback" not in text and "File " not in text
    assert "RSSMRA80A01F205X" not in text  # a failed log call's arguments never show


def test_chained_tracebacks_keep_each_exception_line_and_nothing_else():
    lines = [line for line in CHAINED.splitlines() if line.strip()]  # as lavoro run reads
    assert without_tracebacks(lines) == [
        "ValueError: primo",
        "RuntimeError: secondo",
        "dbt non è riuscito",
    ]


def test_lines_without_a_traceback_are_untouched():
    lines = ["Ingest cfp: 3 file", "  rientro voluto", "dbt: 199 nodi"]
    assert without_tracebacks(lines) == lines


def test_an_error_python_can_only_report_is_one_line(capsys):
    """A generator closed on a full disk (dagster-dbt's, seen in CI): one line, no frames."""
    import gc
    import sys

    from lavoro_debole.orchestration.run import _one_line_unraisable

    def stubborn():
        try:
            yield 1
        except GeneratorExit:
            yield 2  # "generator ignored GeneratorExit"

    before = sys.unraisablehook
    sys.unraisablehook = _one_line_unraisable
    try:
        gen = stubborn()
        next(gen)
        del gen
        gc.collect()
    finally:
        sys.unraisablehook = before
    said = capsys.readouterr().err
    assert said.strip() == "Errore ignorato (RuntimeError): generator ignored GeneratorExit"
    assert "Traceback" not in said
